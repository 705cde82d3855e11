package worker_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/worker"
)

// recording is the scheduler, noting each stage the pool reports.
type recording struct {
	*scheduler.Scheduler
	mu     sync.Mutex
	stages []scheduler.Stage
	seen   chan scheduler.Stage // each report, when set (buffered)
}

func (r *recording) Progress(ctx context.Context, id string, attempt int, st scheduler.Stage) error {
	r.mu.Lock()
	r.stages = append(r.stages, st)
	r.mu.Unlock()
	if r.seen != nil {
		r.seen <- st
	}
	return r.Scheduler.Progress(ctx, id, attempt, st)
}

func (r *recording) reported() []scheduler.Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stages)
}

// devProver makes development keys into an empty store of its own.
func devProver(t *testing.T) *prover.Prover {
	t.Helper()
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: t.TempDir()}, DevSetup: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A job reports each stage it reaches, in order: the key stages only
// while its circuit's keys are not loaded, the setup only when one runs.
func TestPoolReportsStages(t *testing.T) {
	loaded := testkeys.Prover(t)
	c, _ := circuits.Lookup("invoice-consistency/v1")
	if _, err := loaded.Keys(c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		prover *prover.Prover
		want   []scheduler.Stage
	}{
		{"keys loaded", loaded, []scheduler.Stage{scheduler.StageSolving, scheduler.StageProving, scheduler.StageVerifying}},
		{"keys made", devProver(t), scheduler.Stages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recording{Scheduler: newScheduler(t)}
			pool := worker.New(r, tc.prover, worker.Config{Slots: 1})
			pool.Start()
			defer shutdown(t, pool)
			j := wait(t, r.Scheduler, submit(t, r.Scheduler, 1))
			if j.State != scheduler.Succeeded || j.Stage != "" {
				t.Fatalf("job %s at stage %q (%s)", j.State, j.Stage, j.Error)
			}
			if got := r.reported(); !slices.Equal(got, tc.want) {
				t.Fatalf("stages %v, want %v", got, tc.want)
			}
		})
	}
}

// A shutdown while a job's keys are being made does not wait for the
// setup (it cannot be interrupted): the job goes back in line, its
// attempt not counted, and the next start proves it.
func TestShutdownDuringKeySetupHandsTheJobBack(t *testing.T) {
	p := devProver(t)
	r := &recording{Scheduler: newScheduler(t), seen: make(chan scheduler.Stage, 8)}
	pool := worker.New(r, p, worker.Config{Slots: 1})
	pool.Start()
	// The setup takes seconds: time enough to shut down under it.
	c, _ := circuits.Lookup("invoice-consistency/v1")
	j, _, err := r.Submit(context.Background(), scheduler.Request{Circuit: c.ID, Input: invoice(t, 7)})
	if err != nil {
		t.Fatal(err)
	}
	for st := range r.seen {
		if st == scheduler.StageMakingKeys {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pool.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := p.Keys(c); err == nil { // the setup ran on: its keys are saved
		t.Log("setup finished after the shutdown; keys saved")
	}
	got, _ := r.Get(context.Background(), j.ID)
	if got.State != scheduler.Queued || got.Attempts != 0 || got.Error != "" {
		t.Fatalf("after the shutdown: %s, %d attempts, error %q; want queued, 0, none", got.State, got.Attempts, got.Error)
	}
	next := worker.New(r, p, worker.Config{Slots: 1})
	next.Start()
	defer shutdown(t, next)
	if done := wait(t, r.Scheduler, j.ID); done.State != scheduler.Succeeded || done.Attempts != 1 {
		t.Fatalf("the next run: %s after %d attempts (%s)", done.State, done.Attempts, done.Error)
	}
}

// The pool passes the prover's stages on as the scheduler's by name: the
// two lists must name the same stages, in the same order.
func TestStageNamesMatch(t *testing.T) {
	ours := []prover.Stage{prover.StageWaitingForKeys, prover.StageMakingKeys, prover.StageSolving, prover.StageProving, prover.StageVerifying}
	if len(ours) != len(scheduler.Stages) {
		t.Fatalf("prover has %d stages, the scheduler %d", len(ours), len(scheduler.Stages))
	}
	for i, st := range ours {
		if scheduler.Stage(st) != scheduler.Stages[i] {
			t.Errorf("stage %d: prover %q, scheduler %q", i, st, scheduler.Stages[i])
		}
	}
}
