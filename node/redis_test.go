package node_test

import (
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
)

// startRedisServe runs `serve --redis` with no workers of its own.
func startRedisServe(t testing.TB, redisAddr string) *client.Client {
	t.Helper()
	addr := proctest.FreeAddr(t)
	p := proctest.Start(t, "server", append([]string{"serve", "--redis", redisAddr, "--listen", addr, "--metrics", "",
		"--data", t.TempDir(), "--keys", testkeys.Dir(), "--preload", "invoice-consistency/v1", "--dev-setup=false"},
		proctest.ServiceKeyFlags(t)...)...)
	return proctest.Dial(t, p, addr)
}

func startWorker(t testing.TB, name, redisAddr string, extra ...string) *proctest.Process {
	t.Helper()
	args := append([]string{"worker", "--redis", redisAddr, "--keys", testkeys.Dir(), "--workers", "1",
		"--preload", "invoice-consistency/v1", "--shutdown-timeout", "20s"}, proctest.ServiceKeyFlags(t)...)
	args = append(args, extra...)
	p := proctest.Start(t, name, args...)
	p.WaitForLog(t, "worker ready")
	return p
}

func proved(p *proctest.Process) int { return p.Count("msg=proved") }

// One server and two worker processes share 100 jobs through Redis: all
// complete and verify, and both workers took part.
func TestRedisServerAndTwoWorkers(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	c := startRedisServe(t, redis.Addr)
	w1, w2 := startWorker(t, "worker 1", redis.Addr), startWorker(t, "worker 2", redis.Addr)
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) { // heartbeats land within a beat
		d, err := c.Devices(timeout(t, time.Minute))
		if err == nil && len(d) == 2 && strings.HasPrefix(d[0].GetId(), "worker:") && d[0].GetSlots() == 1 {
			break
		}
		if time.Since(start) > time.Minute { // a bound on a hang, not a speed: a loaded machine delays beats
			t.Fatalf("ListDevices: %v %v; want both worker processes", d, err)
		}
	}
	ids := submitInvoices(t, c, 100)
	allComplete(t, c, ids)
	if proved(w1) == 0 || proved(w2) == 0 || proved(w1)+proved(w2) != 100 {
		t.Fatalf("worker 1 proved %d, worker 2 %d; want both, 100 in all", proved(w1), proved(w2))
	}
}

// kill -9 a worker mid-proof: once asynq sees its lease lapse, another
// worker runs the job again, and the client sees one result for it.
func TestRedisWorkerKilledMidProof(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	c := startRedisServe(t, redis.Addr)
	victim := startWorker(t, "victim", redis.Addr)
	ids := submitInvoices(t, c, 8)

	var mu sync.Mutex
	terminal := map[string]int{}
	var watchers sync.WaitGroup
	ctx := timeout(t, 4*time.Minute)
	for _, id := range ids {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			c.Watch(ctx, id, func(j *pb.Job) error {
				if j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED || j.GetState() == pb.JobState_JOB_STATE_FAILED {
					mu.Lock()
					terminal[id]++
					mu.Unlock()
				}
				return nil
			})
		}()
	}

	orphan := ""
	for orphan == "" && ctx.Err() == nil {
		for _, id := range ids {
			if j, err := c.Get(ctx, id); err == nil && j.GetState() == pb.JobState_JOB_STATE_RUNNING {
				if err := victim.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-victim.Exited
				orphan = id
				break
			}
		}
	}
	killed := time.Now()
	if j, _ := c.Get(ctx, orphan); j.GetState() != pb.JobState_JOB_STATE_RUNNING {
		t.Fatalf("the job finished before the kill: %v", j)
	}
	survivor := startWorker(t, "survivor", redis.Addr)
	// asynq reclaims a task 30 s after its lease (30 s) lapses, when a
	// worker starts and every minute after: start one past that point.
	time.Sleep(time.Until(killed.Add(62 * time.Second)))
	startWorker(t, "late worker", redis.Addr)

	allComplete(t, c, ids)
	watchers.Wait()
	j, _ := c.Get(ctx, orphan)
	if j.GetAttempts() != 2 {
		t.Fatalf("the killed worker's job is on attempt %d, want 2", j.GetAttempts())
	}
	for _, id := range ids {
		if terminal[id] != 1 {
			t.Fatalf("job %s reported %d results", id, terminal[id])
		}
	}
	if proved(survivor) == 0 {
		t.Fatal("the surviving worker proved nothing")
	}
}

// SIGTERM: the worker finishes its proof and stops within its bound; its
// other jobs wait in Redis for the next worker, and nothing runs twice.
func TestRedisWorkerDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	c := startRedisServe(t, redis.Addr)
	w := startWorker(t, "worker", redis.Addr)
	ids := submitInvoices(t, c, 12)
	waitForProgress(t, c, ids)
	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Exited:
		if w.Err != nil || !strings.Contains(w.Logs(), "msg=stopped") {
			t.Fatalf("worker exit: %v\n%s", w.Err, w.Logs())
		}
	case <-time.After(2 * time.Minute): // a hang; past its 20 s bound it exits non-zero, which the case above fails
		t.Fatal("worker did not exit after SIGTERM")
	}
	startWorker(t, "next worker", redis.Addr)
	allComplete(t, c, ids)
	for _, id := range ids {
		if j, _ := c.Get(timeout(t, time.Minute), id); j.GetAttempts() != 1 {
			t.Fatalf("job %s ran %d times", id, j.GetAttempts())
		}
	}
}

// A server on Redis with workers of its own proves in-process too, and
// pins jobs to its keys; with Redis away it answers UNAVAILABLE, which
// clients retry until Redis is back.
func TestRedisServeWithItsOwnWorkers(t *testing.T) {
	redis := redistest.Start(t)
	n, c := startNode(t, func(cfg *node.Config) { cfg.Redis, cfg.Workers = redis.Addr, 1 })
	ctx := timeout(t, time.Minute)
	j, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1)})
	if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("prove: %v %v", j, err)
	}
	if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
		t.Fatalf("verify: %v %v", v, err)
	}
	if d, _ := c.Devices(ctx); len(d) != 1 || d[0].GetSlots() != 1 {
		t.Fatalf("devices %v", d)
	}

	redis.Stop()
	impatient, err := client.Dial(n.Addr(), client.Options{Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	req := &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 2)}
	if _, _, err := impatient.Submit(ctx, req); errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("submit with Redis down: %v, want UNAVAILABLE", err)
	}
	go func() { time.Sleep(time.Second); redis.Restart() }()
	if j, err := c.Prove(ctx, req); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("prove across a Redis restart: %v %v", j, err)
	}
}

// A Redis job hash changed by someone with access to Redis (job Y's
// result, public inputs and receipt written into job X's record) is never
// served as X's success: the stored receipt names Y. Nor is an unsigned
// success, or one whose proof lost a digit.
func TestRedisChangedResultIsDataLoss(t *testing.T) {
	t.Parallel()
	redisSrv := redistest.Start(t)
	c := startRedisServe(t, redisSrv.Addr)
	startWorker(t, "worker", redisSrv.Addr)
	ids := submitInvoices(t, c, 2)
	allComplete(t, c, ids)
	for _, id := range ids {
		j, err := c.Get(timeout(t, time.Minute), id)
		if err != nil || c.VerifyReceipt(timeout(t, time.Minute), j) != nil {
			t.Fatalf("job %s before: %v %v", id, j, err)
		}
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: redisSrv.Addr})
	defer rdb.Close()
	ctx := timeout(t, time.Minute)
	record := func(id string) map[string]any {
		data, err := rdb.HGet(ctx, "proofmill:{j}:job:"+id, "d").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	x, y := record(ids[0]), record(ids[1])
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"job Y's result", func(m map[string]any) {
			for _, k := range []string{"result", "public_inputs", "receipt", "backend", "verifying_key"} {
				m[k] = y[k]
			}
		}},
		{"no receipt", func(m map[string]any) { delete(m, "receipt") }},
	} {
		changed := maps.Clone(x)
		tc.edit(changed)
		data, _ := json.Marshal(changed)
		if err := rdb.HSet(ctx, "proofmill:{j}:job:"+ids[0], "d", data).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Get(ctx, ids[0])
		if errcode.Of(err) != errcode.CorruptRecord {
			t.Fatalf("%s: GetJob %v; want DATA_LOSS (corrupt_record)", tc.name, err)
		}
	}
}
