package node_test

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
)

// onRedis edits a test config to a Redis server node that logs to logs.
func onRedis(addr string, logs *proctest.Buffer, volatile bool) func(*node.Config) {
	return func(c *node.Config) {
		c.Redis, c.RedisVolatile, c.Workers = addr, volatile, -1
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
}

// A server or worker on a Redis without persistence, or one that evicts
// keys, refuses to start, saying why and what to set, unless told the
// Redis is volatile.
func TestRedisWithoutPersistenceRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--appendonly", "no"}, "appendonly yes"},
		{[]string{"--maxmemory-policy", "allkeys-lru"}, "maxmemory-policy noeviction"},
	} {
		redis := redistest.StartWith(t, tc.args...)
		for _, role := range []node.Role{node.Serve, node.Worker} {
			var logs proctest.Buffer
			cfg := testnode.Config(t)
			onRedis(redis.Addr, &logs, false)(&cfg)
			cfg.Role = role
			if role == node.Worker {
				cfg.Workers = 1
			}
			n, err := node.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = n.Start(timeout(t, 20*time.Second))
			if err == nil {
				n.Shutdown(t.Context())
				t.Fatalf("%s started on a Redis with %v", role, tc.args)
			}
			if errcode.Of(err) != errcode.Usage || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "--redis-volatile") {
				t.Fatalf("%s on %v: %v (%s); want a usage error saying %q and naming --redis-volatile", role, tc.args, err, errcode.Of(err), tc.says)
			}
		}
		var logs proctest.Buffer
		testnode.Start(t, onRedis(redis.Addr, &logs, true))
		if !strings.Contains(logs.String(), "--redis-volatile") {
			t.Fatalf("no warning on a volatile Redis:\n%s", logs.String())
		}
	}
}

// Redis restarts without persistence under a running server and worker:
// the server's health turns NOT_SERVING, and both log that Redis lost
// its data and that accepted jobs may be gone.
func TestRedisDataLossReported(t *testing.T) {
	t.Parallel()
	redis := redistest.StartWith(t, "--appendonly", "no")
	var serverLogs, workerLogs proctest.Buffer
	n := testnode.Start(t, onRedis(redis.Addr, &serverLogs, true))
	testnode.Start(t, func(c *node.Config) {
		onRedis(redis.Addr, &workerLogs, true)(c)
		c.Role, c.Workers, c.Listen = node.Worker, 1, ""
	})
	conn, err := grpc.NewClient(n.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	status := func() healthpb.HealthCheckResponse_ServingStatus {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	if s := status(); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before the restart: %s", s)
	}

	redis.Kill()
	redis.Restart()
	for start := time.Now(); status() != healthpb.HealthCheckResponse_NOT_SERVING; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("health still SERVING 30 s after Redis lost its data; log:\n%s", serverLogs.String())
		}
	}
	const says = "Redis lost its data: jobs accepted before may be gone"
	if !strings.Contains(serverLogs.String(), says) || !strings.Contains(serverLogs.String(), "level=ERROR") {
		t.Fatalf("the server log lacks the error:\n%s", serverLogs.String())
	}
	for start := time.Now(); !strings.Contains(workerLogs.String(), says); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the worker did not log the loss in 30 s:\n%s", workerLogs.String())
		}
	}
}

// Redis loses its data while no server runs: the next start of a server
// that saw it before says so in its log.
func TestRedisDataLossWhileStoppedReported(t *testing.T) {
	t.Parallel()
	redis := redistest.StartWith(t, "--appendonly", "no")
	dataDir := t.TempDir()
	start := func(logs *proctest.Buffer) *node.Node {
		return testnode.Start(t, func(c *node.Config) {
			onRedis(redis.Addr, logs, true)(c)
			c.DataDir = dataDir
		})
	}
	const says = "Redis lost its data while no proofmill process was running"
	var first, second, third proctest.Buffer
	if err := start(&first).Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := start(&second).Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(first.String()+second.String(), says) {
		t.Fatalf("a loss reported where there was none:\n%s%s", first.String(), second.String())
	}
	redis.Kill()
	redis.Restart()
	start(&third)
	if !strings.Contains(third.String(), says) || !strings.Contains(third.String(), "level=ERROR") {
		t.Fatalf("the start after the loss did not report it:\n%s", third.String())
	}
}

// inMemoryDir is a new folder on a tmpfs (/dev/shm), removed after the
// test; the test fails if /dev/shm is not a tmpfs mount.
func inMemoryDir(t *testing.T) string {
	t.Helper()
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(strings.Split(string(mounts), "\n"), func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 2 && f[1] == "/dev/shm" && f[2] == "tmpfs"
	}) {
		t.Fatalf("/dev/shm is not a tmpfs mount here; this test needs one:\n%s", mounts)
	}
	dir, err := os.MkdirTemp("/dev/shm", "proofmill-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// waitForMetric scrapes addr until it serves line, for up to bound.
func waitForMetric(t *testing.T, addr, line string, bound time.Duration) {
	t.Helper()
	var got string
	for start := time.Now(); time.Since(start) < bound; time.Sleep(200 * time.Millisecond) {
		if got = scrape(t, addr); strings.Contains(got, line) {
			return
		}
	}
	t.Fatalf("after %s, /metrics still lacks %s:\n%s", bound, line, grep(got, "proofmill_durable"))
}

// proofmill_durable follows the job store: 1 for a journal on disk and a
// Redis that keeps jobs; 0 for a journal on a tmpfs (with a warning at
// start), and 0 once a running Redis is set to lose jobs (CONFIG SET).
func TestDurableGauge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dir string
		durable   string
	}{
		{"journal on disk", t.TempDir(), "1"},
		{"journal in memory", inMemoryDir(t), "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs proctest.Buffer
			n := testnode.Start(t, func(c *node.Config) {
				c.DataDir, c.MetricsListen = tc.dir, "127.0.0.1:0"
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			waitForMetric(t, n.MetricsAddr(), `proofmill_durable{store="journal"} `+tc.durable, 10*time.Second)
			if warned := strings.Contains(logs.String(), "file system in memory"); warned != (tc.durable == "0") {
				t.Fatalf("warned about a journal in memory: %v, want %v:\n%s", warned, tc.durable == "0", logs.String())
			}
		})
	}
	t.Run("redis set to lose jobs", func(t *testing.T) {
		redis := redistest.Start(t)
		var logs proctest.Buffer
		n := testnode.Start(t, func(c *node.Config) {
			onRedis(redis.Addr, &logs, false)(c)
			c.MetricsListen = "127.0.0.1:0"
		})
		waitForMetric(t, n.MetricsAddr(), `proofmill_durable{store="redis"} 1`, 10*time.Second)
		rc := goredis.NewClient(&goredis.Options{Addr: redis.Addr})
		defer rc.Close()
		if err := rc.ConfigSet(t.Context(), "appendonly", "no").Err(); err != nil {
			t.Fatal(err)
		}
		waitForMetric(t, n.MetricsAddr(), `proofmill_durable{store="redis"} 0`, 30*time.Second)
	})
}
