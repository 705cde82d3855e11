package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits"
)

// Store keeps jobs durably. Create must be atomic on the job ID.
type Store interface {
	// Create stores job unless a job with its ID exists, and returns the
	// stored job and whether this call created it.
	Create(ctx context.Context, job *Job) (*Job, bool, error)
	Get(ctx context.Context, id string) (*Job, error) // ErrNotFound
	Update(ctx context.Context, job *Job) error
	// Unfinished lists queued and running jobs, oldest first.
	Unfinished(ctx context.Context) ([]*Job, error)
	// DeleteFinished removes terminal jobs finished before t.
	DeleteFinished(ctx context.Context, before time.Time) (int, error)
}

// Queue orders the IDs of queued jobs. Pushing an ID twice is absorbed.
type Queue interface {
	Push(id string, p Priority)
	// Pop blocks until an ID is ready or ctx ends; the queue chooses the
	// priority with NextPriority.
	Pop(ctx context.Context) (string, error)
	Remove(id string) bool
	Len(p Priority) int
}

// Config tunes a Scheduler. The zero value is usable.
type Config struct {
	MaxQueued   int           // jobs waiting at once; 0 means 10 000
	MaxAttempts int           // tries per job for retryable failures; 0 means 3
	Retention   time.Duration // how long finished jobs (and proofs) are kept; 0 means 24h
	Logger      *slog.Logger  // nil means slog.Default()
	Now         func() time.Time
}

// Request is a proof request as a client makes it.
type Request struct {
	Circuit        string
	Input          []byte
	Priority       Priority
	Deadline       time.Time // zero: none
	IdempotencyKey string    // empty: derived from circuit and inputs
}

// Scheduler admits jobs and hands them to workers.
type Scheduler struct {
	store Store
	queue Queue
	cfg   Config
	log   *slog.Logger

	mu       sync.Mutex // serializes state transitions
	changed  map[string]*watch
	draining bool
}

// watch is closed when a job changes; n counts the callers waiting on it, so
// the last one out removes it.
type watch struct {
	ch chan struct{}
	n  int
}

// New returns a Scheduler over a store and a queue. Call Recover before
// serving, to re-queue what a previous process left unfinished.
func New(store Store, queue Queue, cfg Config) *Scheduler {
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = 10_000
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Retention == 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scheduler{store: store, queue: queue, cfg: cfg, log: cfg.Logger, changed: map[string]*watch{}}
}

// Recover re-queues every unfinished job: queued ones as they were, and
// running ones (their process died mid-proof) for another attempt.
func (s *Scheduler) Recover(ctx context.Context) (int, error) {
	jobs, err := s.store.Unfinished(ctx)
	if err != nil {
		return 0, fmt.Errorf("scheduler: recover: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		if j.State == Running {
			j.State = Queued
			if err := s.save(ctx, j); err != nil {
				return 0, fmt.Errorf("scheduler: recover %s: %w", j.ID, err)
			}
		}
		s.queue.Push(j.ID, j.Priority)
	}
	return len(jobs), nil
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,128}$`)

// Submit validates a request and queues it, or returns the job already
// made for the same idempotency key (or, without a key, the same circuit and
// inputs). A cancelled job, or one that failed for a reason another try
// could fix, is started afresh under its id. Input errors match the input.Err* kinds; an unknown circuit
// matches circuits.ErrUnknownCircuit.
func (s *Scheduler) Submit(ctx context.Context, req Request) (*Job, bool, error) {
	c, err := circuits.Lookup(req.Circuit)
	if err != nil {
		return nil, false, err
	}
	if req.Priority >= numPriorities {
		return nil, false, fmt.Errorf("scheduler: %w %d", ErrBadPriority, req.Priority)
	}
	if req.IdempotencyKey != "" && !keyPattern.MatchString(req.IdempotencyKey) {
		return nil, false, fmt.Errorf("scheduler: %w: 1 to 128 of A-Z a-z 0-9 . _ : / -", ErrInvalidKey)
	}
	now := s.cfg.Now()
	if !req.Deadline.IsZero() && !req.Deadline.After(now) {
		return nil, false, fmt.Errorf("scheduler: %w: %s", ErrPastDeadline, req.Deadline.Format(time.RFC3339))
	}
	a, err := c.Assign(req.Input) // admission: the statement must hold
	if err != nil {
		return nil, false, err
	}
	id := "key:" + req.IdempotencyKey
	if req.IdempotencyKey == "" {
		full, err := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
		if err != nil {
			return nil, false, fmt.Errorf("scheduler: witness: %w", err)
		}
		bin, err := full.MarshalBinary()
		if err != nil {
			return nil, false, fmt.Errorf("scheduler: witness: %w", err)
		}
		id = "input:" + c.ID + "\x00" + string(bin) // the canonical inputs
	}
	sum := sha256.Sum256([]byte(id))
	job := &Job{
		ID: hex.EncodeToString(sum[:16]), Circuit: c.ID, Input: req.Input, Priority: req.Priority,
		Deadline: req.Deadline, IdempotencyKey: req.IdempotencyKey, State: Queued, Submitted: now, Version: 1,
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, false, ErrDraining
	}
	existing, err := s.store.Get(ctx, job.ID)
	switch {
	case err == nil && !retriable(existing):
		return existing, false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, false, fmt.Errorf("scheduler: submit: %w", err)
	}
	if s.queued() >= s.cfg.MaxQueued {
		return nil, false, fmt.Errorf("scheduler: %w: %d jobs waiting", ErrQueueFull, s.cfg.MaxQueued)
	}
	if existing != nil { // start it afresh under the same id
		job.Version = existing.Version
		if err := s.save(ctx, job); err != nil {
			return nil, false, err
		}
		s.queue.Push(job.ID, job.Priority)
		return job, true, nil
	}
	stored, created, err := s.store.Create(ctx, job)
	if err != nil {
		return nil, false, fmt.Errorf("scheduler: submit: %w", err)
	}
	if created {
		s.queue.Push(stored.ID, stored.Priority)
	}
	return stored, created, nil
}

// retriable reports whether a resubmission may run a stored job again: it
// was cancelled, or failed for a reason another try could fix. A job whose
// statement is false, and any job still live or succeeded, is returned as is.
func retriable(j *Job) bool {
	return j.State == Cancelled || (j.State == Failed && (j.ErrorKind == KindDeadlineExceeded || j.ErrorKind == KindAttemptsExceeded))
}

func (s *Scheduler) queued() int {
	n := 0
	for p := range numPriorities {
		n += s.queue.Len(p)
	}
	return n
}

// Waiting returns how many jobs wait at each priority.
func (s *Scheduler) Waiting() [numPriorities]int {
	var w [numPriorities]int
	for p := range numPriorities {
		w[p] = s.queue.Len(p)
	}
	return w
}

// Get returns a job.
func (s *Scheduler) Get(ctx context.Context, id string) (*Job, error) {
	return s.store.Get(ctx, id)
}

// Cancel cancels a queued job. Running and finished jobs are not cancelled
// (a proof cannot be interrupted): ErrNotQueued.
func (s *Scheduler) Cancel(ctx context.Context, id string) (*Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch j.State {
	case Cancelled:
		return j, nil // a retried cancel
	case Queued:
	default:
		return j, fmt.Errorf("scheduler: cancel %s: %w (it is %s)", id, ErrNotQueued, j.State)
	}
	s.finish(j, Cancelled, KindCancelled, "cancelled by the client")
	if err := s.save(ctx, j); err != nil {
		return nil, err
	}
	s.queue.Remove(id) // after the save: a failed save leaves the job in line
	return j, nil
}

// Next blocks until a job may run, marks it running and returns it. Jobs
// cancelled meanwhile are skipped; jobs past their deadline fail without
// running.
func (s *Scheduler) Next(ctx context.Context) (*Job, error) {
	for {
		id, err := s.queue.Pop(ctx)
		if err != nil {
			return nil, err
		}
		j, ok, err := s.start(ctx, id)
		if err != nil {
			s.requeue(ctx, id) // the store failed; keep the job in line
			return nil, err
		}
		if ok {
			return j, nil
		}
	}
}

func (s *Scheduler) requeue(ctx context.Context, id string) {
	if j, err := s.store.Get(ctx, id); err == nil && j.State == Queued {
		s.queue.Push(id, j.Priority)
	}
}

func (s *Scheduler) start(ctx context.Context, id string) (*Job, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("scheduler: start %s: %w", id, err)
	}
	if j.State != Queued {
		return nil, false, nil
	}
	now := s.cfg.Now()
	switch {
	case !j.Deadline.IsZero() && !now.Before(j.Deadline):
		s.finish(j, Failed, KindDeadlineExceeded, fmt.Sprintf("deadline %s passed before the job could start", j.Deadline.Format(time.RFC3339)))
		return nil, false, s.save(ctx, j)
	case j.Attempts >= s.cfg.MaxAttempts:
		// Only a process that died mid-proof leaves a job here: do not let
		// one poison job crash every restart.
		s.finish(j, Failed, KindAttemptsExceeded, fmt.Sprintf("the proving process stopped during each of %d attempts", j.Attempts))
		return nil, false, s.save(ctx, j)
	}
	j.State, j.Started, j.Attempts = Running, now, j.Attempts+1
	if err := s.save(ctx, j); err != nil {
		return nil, false, err
	}
	return j.clone(), true, nil
}

// Outcome is what a worker reports for a job it ran.
type Outcome struct {
	Result    []byte // the proof file, on success
	Backend   string
	Err       error // nil on success
	Retryable bool  // whether another attempt may succeed
	ErrorKind string
}

// Finish records a worker's outcome: success, a permanent failure, or a
// retryable failure that is re-queued until MaxAttempts.
func (s *Scheduler) Finish(ctx context.Context, id string, o Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.store.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("scheduler: finish %s: %w", id, err)
	}
	if j.State != Running {
		return nil // a duplicate report changes nothing
	}
	j.Backend = o.Backend
	switch {
	case o.Err == nil:
		j.Result = o.Result
		s.finish(j, Succeeded, "", "")
	case o.Retryable && j.Attempts < s.cfg.MaxAttempts:
		j.State, j.Error = Queued, o.Err.Error()
		s.log.Warn("job failed; retrying", "job", j.ID, "attempt", j.Attempts, "err", o.Err)
		if err := s.save(ctx, j); err != nil {
			return err
		}
		s.queue.Push(j.ID, j.Priority)
		return nil
	case o.Retryable:
		s.finish(j, Failed, KindAttemptsExceeded, fmt.Sprintf("failed %d times; last error: %v", j.Attempts, o.Err))
	default:
		s.finish(j, Failed, o.ErrorKind, o.Err.Error())
	}
	return s.save(ctx, j)
}

func (s *Scheduler) finish(j *Job, state State, kind, reason string) {
	j.State, j.ErrorKind, j.Error, j.Finished = state, kind, reason, s.cfg.Now()
}

// save writes a changed job and wakes its watchers. Callers hold s.mu.
func (s *Scheduler) save(ctx context.Context, j *Job) error {
	j.Version++
	if err := s.store.Update(ctx, j); err != nil {
		return fmt.Errorf("scheduler: save %s: %w", j.ID, err)
	}
	if w, ok := s.changed[j.ID]; ok {
		close(w.ch)
		delete(s.changed, j.ID)
	}
	return nil
}

// WaitChange returns the job once its version is past version (at once if it
// already is), or when ctx ends.
func (s *Scheduler) WaitChange(ctx context.Context, id string, version uint64) (*Job, error) {
	for {
		j, changed, err := s.waitOnce(ctx, id, version)
		if err != nil || !changed {
			return j, err
		}
	}
}

// waitOnce registers a watch, reads the job, and waits for one change unless
// the job is already past version; changed says whether to read again.
func (s *Scheduler) waitOnce(ctx context.Context, id string, version uint64) (*Job, bool, error) {
	s.mu.Lock()
	w, ok := s.changed[id]
	if !ok {
		w = &watch{ch: make(chan struct{})}
		s.changed[id] = w
	}
	w.n++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if w.n--; w.n == 0 && s.changed[id] == w {
			delete(s.changed, id)
		}
		s.mu.Unlock()
	}()
	j, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if j.Version > version {
		return j, false, nil
	}
	select {
	case <-w.ch:
		return nil, true, nil
	case <-ctx.Done():
		return j, false, ctx.Err()
	}
}

// Wait returns the job once it is terminal, or when ctx ends.
func (s *Scheduler) Wait(ctx context.Context, id string) (*Job, error) {
	var version uint64
	for {
		j, err := s.WaitChange(ctx, id, version)
		if err != nil || j.State.Terminal() {
			return j, err
		}
		version = j.Version
	}
}

// Drain stops admitting jobs; running ones finish and queued ones stay in
// the store for the next start.
func (s *Scheduler) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

// Expire deletes finished jobs older than the retention period.
func (s *Scheduler) Expire(ctx context.Context) (int, error) {
	return s.store.DeleteFinished(ctx, s.cfg.Now().Add(-s.cfg.Retention))
}
