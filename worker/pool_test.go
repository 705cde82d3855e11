package worker_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
	"github.com/proofmill/proofmill/worker"
)

func newScheduler(t testing.TB) *scheduler.Scheduler {
	t.Helper()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return scheduler.New(store, embedded.NewQueue(embedded.QueueConfig{}), scheduler.Config{MaxAttempts: 3})
}

func invoice(t testing.TB, n int) []byte { return []byte(testinput.Invoice(t, n)) }

func submit(t testing.TB, s *scheduler.Scheduler, n int) string {
	t.Helper()
	j, _, err := s.Submit(context.Background(), scheduler.Request{Circuit: "invoice-consistency/v1", Input: invoice(t, n)})
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func wait(t *testing.T, s *scheduler.Scheduler, id string) *scheduler.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := s.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	return j
}

func shutdown(t *testing.T, p *worker.Pool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// Real proofs: every job completes, and its proof verifies.
func TestPoolProvesJobs(t *testing.T) {
	s := newScheduler(t)
	real := testkeys.Prover(t)
	var observed atomic.Int64
	pool := worker.New(s, real, worker.Config{Slots: 2, Observe: func(*scheduler.Job, scheduler.Outcome, time.Duration) { observed.Add(1) }})
	pool.Start()
	defer shutdown(t, pool)
	var ids []string
	for i := range 3 {
		ids = append(ids, submit(t, s, i))
	}
	for _, id := range ids {
		j := wait(t, s, id)
		if j.State != scheduler.Succeeded || j.Backend != "cpu" {
			t.Fatalf("job %s: %s %s", id, j.State, j.Error)
		}
		if _, err := real.VerifyFile(j.Result); err != nil {
			t.Fatalf("job %s: proof does not verify: %v", id, err)
		}
	}
	if observed.Load() != 3 {
		t.Fatalf("observed %d attempts, want 3", observed.Load())
	}
}

// scripted fails the first calls as told, then proves for real.
type scripted struct {
	real  worker.Prover
	calls atomic.Int64
	fail  func(call int64) error // nil: prove; errPanic: panic
}

var errPanic = errors.New("panic")

func (s *scripted) LoadKeys(ctx context.Context, c *circuits.Circuit) (*prover.Keys, error) {
	return s.real.LoadKeys(ctx, c)
}
func (b *blocking) LoadKeys(ctx context.Context, c *circuits.Circuit) (*prover.Keys, error) {
	return b.real.LoadKeys(ctx, c)
}

// A worker proves only jobs accepted for its own verifying key.
func TestWorkerRefusesOtherKeys(t *testing.T) {
	p := testkeys.Prover(t)
	c, _ := circuits.Lookup("invoice-consistency/v1")
	k, err := p.Keys(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pinned string
		state  scheduler.State
	}{{k.VerifyingKeyHash(), scheduler.Succeeded}, {strings.Repeat("ab", 32), scheduler.Failed}} {
		store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		s := scheduler.New(store, embedded.NewQueue(embedded.QueueConfig{}), scheduler.Config{MaxAttempts: 2,
			VerifyingKey: func(context.Context, string) (string, error) { return tc.pinned, nil }})
		pool := worker.New(s, p, worker.Config{Slots: 1})
		pool.Start()
		j := wait(t, s, submit(t, s, 1))
		shutdown(t, pool)
		if j.State != tc.state || j.VerifyingKey != tc.pinned {
			t.Fatalf("pinned %.8s: %s (%s)", tc.pinned, j.State, j.Error)
		}
		if tc.state == scheduler.Failed && !strings.Contains(j.Error, "verifying key mismatch") {
			t.Fatalf("failure does not name the mismatch: %s", j.Error)
		}
	}
}

func (s *scripted) ProveWitness(ctx context.Context, c *circuits.Circuit, w []byte) (*prover.Proof, error) {
	n := s.calls.Add(1)
	if err := s.fail(n); err != nil {
		if err == errPanic {
			panic("device fell over")
		}
		return nil, err
	}
	return s.real.ProveWitness(ctx, c, w)
}

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name     string
		fail     func(int64) error
		state    scheduler.State
		kind     string
		attempts int
	}{
		{"panic, then success", func(n int64) error {
			if n == 1 {
				return errPanic
			}
			return nil
		}, scheduler.Succeeded, "", 2},
		{"rejected proof, then success", func(n int64) error {
			if n == 1 {
				return prover.ErrProofRejected
			}
			return nil
		}, scheduler.Succeeded, "", 2},
		{"always rejected", func(int64) error { return prover.ErrProofRejected }, scheduler.Failed, "attempts_exceeded", 3},
		{"unsatisfied", func(int64) error { return fmt.Errorf("x: %w", input.ErrUnsatisfied) }, scheduler.Failed, "unsatisfied", 1},
		{"bad input", func(int64) error { return fmt.Errorf("x: %w", input.ErrOutOfRange) }, scheduler.Failed, "invalid_input", 1},
		{"development keys in production", func(int64) error { return fmt.Errorf("x: %w", prover.ErrDevelopmentKeys) }, scheduler.Failed, "development_keys", 1},
		{"no keys yet, then keys", func(n int64) error {
			if n == 1 {
				return prover.ErrNoKeys
			}
			return nil
		}, scheduler.Succeeded, "", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScheduler(t)
			pool := worker.New(s, &scripted{real: testkeys.Prover(t), fail: c.fail}, worker.Config{Slots: 1})
			pool.Start()
			defer shutdown(t, pool)
			j := wait(t, s, submit(t, s, 1))
			if j.State != c.state || j.ErrorKind != c.kind || j.Attempts != c.attempts {
				t.Fatalf("got %s/%q after %d attempts (%s); want %s/%q after %d", j.State, j.ErrorKind, j.Attempts, j.Error, c.state, c.kind, c.attempts)
			}
		})
	}
}

// blocking holds every proof until released.
type blocking struct {
	started chan struct{}
	release chan struct{}
	real    worker.Prover
}

func (b *blocking) ProveWitness(ctx context.Context, c *circuits.Circuit, w []byte) (*prover.Proof, error) {
	b.started <- struct{}{}
	<-b.release
	return b.real.ProveWitness(ctx, c, w)
}

// Shutdown waits for the running proof, within its bound, and the job's
// result is recorded; queued jobs stay queued.
func TestShutdownFinishesRunningJob(t *testing.T) {
	s := newScheduler(t)
	b := &blocking{started: make(chan struct{}, 1), release: make(chan struct{}), real: testkeys.Prover(t)}
	pool := worker.New(s, b, worker.Config{Slots: 1})
	pool.Start()
	running := submit(t, s, 1)
	queued := submit(t, s, 2)
	<-b.started
	go func() { time.Sleep(50 * time.Millisecond); close(b.release) }()
	shutdown(t, pool)
	if j, _ := s.Get(context.Background(), running); j.State != scheduler.Succeeded {
		t.Fatalf("running job: %s", j.State)
	}
	if j, _ := s.Get(context.Background(), queued); j.State != scheduler.Queued {
		t.Fatalf("queued job: %s", j.State)
	}
}

// Past its bound, Shutdown aborts the running job's context: a proof still
// waiting to start gives up, and its job goes back in line, losing
// nothing.
func TestShutdownPastItsBoundAbortsWaitingProofs(t *testing.T) {
	s := newScheduler(t)
	b := &blocking{started: make(chan struct{}, 1), release: make(chan struct{}), real: testkeys.Prover(t)}
	pool := worker.New(s, b, worker.Config{Slots: 1})
	pool.Start()
	running := submit(t, s, 1)
	<-b.started
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := pool.Shutdown(short); err == nil {
		t.Fatal("shutdown returned before the running proof finished")
	}
	close(b.release) // the proof now meets its aborted context
	shutdown(t, pool)
	j, _ := s.Get(context.Background(), running)
	if j.State != scheduler.Queued || j.Attempts != 1 || !strings.Contains(j.Error, "context canceled") {
		t.Fatalf("aborted job: %s, attempt %d (%s)", j.State, j.Attempts, j.Error)
	}
}

// A job stored before jobs kept their witness (its JSON input only) is
// admitted again by the worker and proved.
func TestLegacyJobIsProved(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	legacy := &scheduler.Job{ID: "legacy", Circuit: "invoice-consistency/v1", LegacyInput: invoice(t, 61), State: scheduler.Queued, Version: 1, Submitted: time.Now()}
	if _, _, err := store.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	s := scheduler.New(store, embedded.NewQueue(embedded.QueueConfig{}), scheduler.Config{})
	if n, err := s.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("recover: %d %v", n, err)
	}
	pool := worker.New(s, testkeys.Prover(t), worker.Config{Slots: 1})
	pool.Start()
	defer shutdown(t, pool)
	if j := wait(t, s, "legacy"); j.State != scheduler.Succeeded || len(j.PublicInputs) == 0 {
		t.Fatalf("legacy job: %s %s", j.State, j.Error)
	}
}

// stoppable proves nothing: each proof runs until its context ends, as
// an isolated device's does when its worker process is killed.
type stoppable struct {
	started chan string
	causes  chan error
	real    worker.Prover
}

func (s *stoppable) ProveWitness(ctx context.Context, c *circuits.Circuit, w []byte) (*prover.Proof, error) {
	s.started <- c.ID
	<-ctx.Done()
	s.causes <- context.Cause(ctx)
	return nil, ctx.Err()
}

func (s *stoppable) LoadKeys(ctx context.Context, c *circuits.Circuit) (*prover.Keys, error) {
	return s.real.LoadKeys(ctx, c)
}

// Cancelling a running job ends the context its proof runs under, with
// ErrCancelled as the cause: the slot then takes the next job, and the job
// stays cancelled.
func TestCancelStopsTheRunningProof(t *testing.T) {
	s := newScheduler(t)
	p := &stoppable{started: make(chan string, 2), causes: make(chan error, 2), real: testkeys.Prover(t)}
	pool := worker.New(s, p, worker.Config{Slots: 1})
	pool.Start()
	first := submit(t, s, 1)
	<-p.started
	second := submit(t, s, 2)
	defer func() {
		s.Cancel(context.Background(), second) // its proof never ends on its own
		shutdown(t, pool)
	}()
	if _, err := s.Cancel(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-p.causes:
		if !errors.Is(cause, scheduler.ErrCancelled) {
			t.Fatalf("the proof's context ended with %v, want ErrCancelled", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the running proof was not told of the cancel")
	}
	select {
	case <-p.started: // the slot is free again
	case <-time.After(10 * time.Second):
		t.Fatal("the slot did not take the next job")
	}
	if j, _ := s.Get(context.Background(), first); j.State != scheduler.Cancelled || j.Result != nil {
		t.Fatalf("cancelled job: %s", j.State)
	}
	if j, _ := s.Get(context.Background(), second); j.State != scheduler.Running {
		t.Fatalf("next job: %s", j.State)
	}
}
