package node_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

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
