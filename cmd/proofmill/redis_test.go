package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
)

// startRedisServe runs `serve --redis` with no workers of its own.
func startRedisServe(t testing.TB, redisAddr string) *client.Client {
	t.Helper()
	addr := freeAddr(t)
	p := startProcess(t, "server", "serve", "--redis", redisAddr, "--listen", addr, "--metrics", "",
		"--data", t.TempDir(), "--keys", testkeys.Dir(), "--preload", "invoice-consistency/v1", "--dev-setup=false")
	return dialServer(t, p, addr)
}

func startWorker(t testing.TB, name, redisAddr string, extra ...string) *process {
	t.Helper()
	args := append([]string{"worker", "--redis", redisAddr, "--keys", testkeys.Dir(), "--concurrency", "1",
		"--preload", "invoice-consistency/v1", "--drain-timeout", "20s"}, extra...)
	p := startProcess(t, name, args...)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.logs.String(), "worker ready") {
		select {
		case <-p.exited:
			t.Fatalf("%s exited: %v\n%s", name, p.err, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready:\n%s", name, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func proved(p *process) int { return strings.Count(p.logs.String(), "msg=proved") }

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
		if time.Since(start) > 10*time.Second {
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
				if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-victim.exited
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

// A batch with a bad line runs to the end through a Redis restart; its
// proofs verify; rerunning the file proves nothing again.
func TestRedisBatchSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	w := startWorker(t, "worker", redis.Addr)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "requests.jsonl"), filepath.Join(dir, "proofs.jsonl")
	var lines bytes.Buffer
	const good = 24
	for i := range good {
		fmt.Fprintf(&lines, `{"circuit": "invoice-consistency/v1", "input": %s}`+"\n", compact(t, invoiceInput(t, 5000+i)))
		if i == 3 {
			bad := strings.Replace(invoiceInput(t, 9000), `"quantity": 1200,
    "ship_date"`, `"quantity": 1100,
    "ship_date"`, 1)
			fmt.Fprintf(&lines, `{"circuit": "invoice-consistency/v1", "input": %s}`+"\n", compact(t, bad))
			lines.WriteString("{not json\n")
		}
	}
	if err := os.WriteFile(in, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	run := startProcess(t, "batch run", "batch", "run", "--redis", redis.Addr, "--in", in, "--out", out, "--keys", testkeys.Dir())
	deadline := time.Now().Add(2 * time.Minute)
	for proved(w) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress:\n%s", run.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	redis.Stop()
	time.Sleep(3 * time.Second)
	redis.Restart()

	select {
	case <-run.exited:
	case <-time.After(3 * time.Minute):
		t.Fatalf("batch run did not finish:\n%s", run.logs.String())
	}
	if !strings.Contains(run.logs.String(), "cannot read progress") {
		t.Fatalf("the batch never saw Redis go away:\n%s", run.logs.String())
	}
	if code := run.cmd.ProcessState.ExitCode(); code != exitFailure {
		t.Fatalf("batch run exited %d, want %d (two lines failed)", code, exitFailure)
	}
	results := readResults(t, out)
	if len(results) != good+2 {
		t.Fatalf("%d result lines, want %d", len(results), good+2)
	}
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: testkeys.Dir()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, r := range results {
		switch r.Line {
		case 5:
			if r.State != stateRejected || !strings.Contains(r.Error, "rule quantity") {
				t.Fatalf("unsatisfiable line: %+v", r)
			}
		case 6:
			if r.State != stateRejected || !strings.Contains(r.Error, "malformed") {
				t.Fatalf("malformed line: %+v", r)
			}
		default:
			if r.State != "succeeded" {
				t.Fatalf("line %d: %s %s", r.Line, r.State, r.Error)
			}
			if _, err := p.VerifyFile(r.Proof); err != nil {
				t.Fatalf("line %d: proof does not verify: %v", r.Line, err)
			}
			succeeded++
		}
	}
	if succeeded != good {
		t.Fatalf("%d proofs, want %d", succeeded, good)
	}
	before := proved(w)
	again := startProcess(t, "batch rerun", "batch", "run", "--redis", redis.Addr, "--in", in, "--out", out, "--keys", testkeys.Dir())
	<-again.exited
	if !strings.Contains(again.logs.String(), "0 queued, 24 already known, 2 rejected") || proved(w) != before {
		t.Fatalf("the rerun proved again (%d → %d):\n%s", before, proved(w), again.logs.String())
	}
	if got := readResults(t, out); len(got) != good+2 || got[0].Job != results[0].Job {
		t.Fatalf("the rerun's results differ")
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
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.exited:
		if w.err != nil || !strings.Contains(w.logs.String(), "worker stopped") {
			t.Fatalf("worker exit: %v\n%s", w.err, w.logs.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("worker did not stop within its drain bound")
	}
	startWorker(t, "next worker", redis.Addr)
	allComplete(t, c, ids)
	for _, id := range ids {
		if j, _ := c.Get(timeout(t, time.Minute), id); j.GetAttempts() != 1 {
			t.Fatalf("job %s ran %d times", id, j.GetAttempts())
		}
	}
}

// serve --redis --workers N proves in-process too, and pins jobs to its keys.
func TestRedisServeWithItsOwnWorkers(t *testing.T) {
	redis := redistest.Start(t)
	n, c := startTestNode(t, func(cfg *serveConfig) { cfg.Redis, cfg.Workers = redis.Addr, 1 })
	ctx := timeout(t, time.Minute)
	j, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 1)})
	if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("prove: %v %v", j, err)
	}
	if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
		t.Fatalf("verify: %v %v", v, err)
	}
	if d, _ := c.Devices(ctx); len(d) != 1 || d[0].GetSlots() != 1 {
		t.Fatalf("devices %v", d)
	}

	// Redis away: UNAVAILABLE, which the client retries until Redis is back.
	redis.Stop()
	impatient, err := client.Dial(n.addr.String(), client.Options{Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	req := &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 2)}
	if _, _, err := impatient.Submit(ctx, req); status.Code(err) != codes.Unavailable {
		t.Fatalf("submit with Redis down: %v, want UNAVAILABLE", err)
	}
	go func() { time.Sleep(time.Second); redis.Restart() }()
	if j, err := c.Prove(ctx, req); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("prove across a Redis restart: %v %v", j, err)
	}
}

func compact(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func readResults(t *testing.T, path string) []batchResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rs []batchResult
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r batchResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}
