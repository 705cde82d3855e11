package node_test

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/node"
)

// stagesOrder is a run's stages, in order.
var stagesOrder = []pb.JobStage{pb.JobStage_JOB_STAGE_WAITING_FOR_KEYS, pb.JobStage_JOB_STAGE_MAKING_DEVELOPMENT_KEYS,
	pb.JobStage_JOB_STAGE_SOLVING, pb.JobStage_JOB_STAGE_PROVING, pb.JobStage_JOB_STAGE_VERIFYING}

// watchStages proves one invoice through WatchJob and returns the stages
// the watch showed, each once, checking that they came in a run's order,
// only while the job ran, and that it succeeded.
func watchStages(t *testing.T, c *client.Client, n int) []pb.JobStage {
	t.Helper()
	var seen []pb.JobStage
	j, err := c.ProveSeeing(timeout(t, 3*time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, n)},
		func(j *pb.Job) {
			st := j.GetStage()
			if st != pb.JobStage_JOB_STAGE_UNSPECIFIED && j.GetState() != pb.JobState_JOB_STATE_RUNNING {
				t.Errorf("stage %s while %s", st, j.GetState())
			}
			if st != pb.JobStage_JOB_STAGE_UNSPECIFIED && (len(seen) == 0 || seen[len(seen)-1] != st) {
				seen = append(seen, st)
			}
		})
	if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job: %v, %v", j, err)
	}
	last := -1
	for _, st := range seen {
		i := slices.Index(stagesOrder, st)
		if i <= last {
			t.Fatalf("stages %v: out of order", seen)
		}
		last = i
	}
	t.Logf("stages seen: %v", seen)
	return seen
}

// On the embedded backend, a watch of a job whose circuit has no keys yet
// shows the development setup (seconds long) and the proof (the longest
// stage of an invoice's run), in order.
func TestWatchJobShowsStages(t *testing.T) {
	t.Parallel()
	_, c := startNode(t, func(cfg *node.Config) { cfg.KeysDir = t.TempDir() })
	seen := watchStages(t, c, 1)
	for _, want := range []pb.JobStage{pb.JobStage_JOB_STAGE_MAKING_DEVELOPMENT_KEYS, pb.JobStage_JOB_STAGE_PROVING} {
		if !slices.Contains(seen, want) {
			t.Fatalf("stages %v: no %s", seen, want)
		}
	}
}

// With Redis, the worker is another process: its stages reach the
// server's watchers through Redis.
func TestRedisWatchJobShowsStages(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	c := startRedisServe(t, redis.Addr)
	w := startWorker(t, "worker", redis.Addr, "--preload", "none") // a job waits for its keys
	seen := watchStages(t, c, 2)
	if !slices.Contains(seen, pb.JobStage_JOB_STAGE_PROVING) {
		t.Fatalf("stages %v: no proving\n%s", seen, w.Logs())
	}
}

// Ctrl-C to `serve` while a job's development keys are being made: the
// process does not wait for the setup (it cannot be interrupted) and
// exits 0; the job stays queued, its attempt not counted, and the next
// start proves it.
func TestInterruptDuringKeySetup(t *testing.T) {
	t.Parallel()
	data, keys := t.TempDir(), t.TempDir() // no keys: the first job makes them
	serve := func(name string) (*proctest.Process, *client.Client) {
		addr := proctest.FreeAddr(t)
		p := proctest.Start(t, name, append([]string{"serve", "--listen", addr, "--metrics", "", "--data", data, "--keys", keys,
			"--preload", "none", "--workers", "1"}, proctest.ServiceKeyFlags(t)...)...)
		return p, proctest.Dial(t, p, addr)
	}
	p, c := serve("server")
	j, _, err := c.Submit(timeout(t, time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	watch, stop := context.WithCancel(timeout(t, 2*time.Minute))
	errSeen := c.Watch(watch, j.GetId(), func(j *pb.Job) error {
		if j.GetStage() == pb.JobStage_JOB_STAGE_MAKING_DEVELOPMENT_KEYS {
			stop()
		}
		return nil
	})
	if watch.Err() == nil || context.Cause(watch) != context.Canceled {
		t.Fatalf("the watch ended without showing the key setup: %v", errSeen)
	}
	sent := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited:
		// The bound below is on a hang; the figure is logged.
		t.Logf("serve exited %s after SIGINT, during the key setup", time.Since(sent).Round(time.Millisecond))
	case <-time.After(25 * time.Second): // under the 30 s shutdown bound, which waiting for the setup would reach
		t.Fatal("serve did not exit after SIGINT during the key setup")
	}
	if p.Err != nil || !strings.Contains(p.Logs(), "back in line") {
		t.Fatalf("serve's exit: %v (want 0, the job handed back)", p.Err)
	}
	_, c = serve("server, restarted")
	done, err := c.Wait(timeout(t, 3*time.Minute), j.GetId())
	if err != nil || done.GetState() != pb.JobState_JOB_STATE_SUCCEEDED || done.GetAttempts() != 1 {
		t.Fatalf("after the restart: %v, %v; want succeeded in 1 attempt", done, err)
	}
}
