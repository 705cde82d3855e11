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

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/spans"
)

// Store keeps jobs durably. Several schedulers (processes) may share one
// store: Create is atomic on the job ID and Update on the job's version.
type Store interface {
	// Create stores job unless a job with its ID exists, and returns the
	// stored job and whether this call created it.
	Create(ctx context.Context, job *Job) (*Job, bool, error)
	Get(ctx context.Context, id string) (*Job, error) // ErrNotFound
	// Update replaces the stored job if its version is job.Version-1, and
	// fails with ErrConflict if another writer got there first.
	Update(ctx context.Context, job *Job) error
	// Unfinished lists queued and running jobs, oldest first; only their
	// ID, State, Priority, Tenant and Deadline need be filled in.
	Unfinished(ctx context.Context) ([]*Job, error)
	// CountUnfinished counts one tenant's queued and running jobs.
	CountUnfinished(ctx context.Context, tenant string) (int, error)
	// CountQueued counts the jobs waiting (state queued) at each priority.
	CountQueued(ctx context.Context) (map[Priority]int, error)
	// DeleteFinished removes terminal jobs finished before t. A store that
	// expires jobs itself returns 0.
	DeleteFinished(ctx context.Context, before time.Time) (int, error)
}

// Queue delivers the IDs of queued jobs to workers. Pushing an ID that is
// in line, or held by a worker, is absorbed.
type Queue interface {
	Push(ctx context.Context, id string, c Class) error
	// Pop blocks until an ID is ready or ctx ends, and holds it for the
	// caller until Release. The queue serves priorities as NextPriority
	// says (exactly or, for a shared queue, in proportion), and may share
	// each priority between tenants (see NextTenant).
	Pop(ctx context.Context) (string, error)
	// Release ends the hold Pop took: the ID is done with, or (again) goes
	// back in line for another attempt.
	Release(ctx context.Context, id string, c Class, again bool) error
	// Remove takes an ID out of line; an ID not in line is no error.
	Remove(ctx context.Context, id string, c Class) error
	// Len counts the IDs in line at priority p.
	Len(ctx context.Context, p Priority) (int, error)
}

// JobQueue is a Queue told the jobs it holds, not only their IDs, and how
// each ended: one whose operators' tools show its tasks (Redis, through
// asynq's) names each task's circuit and shows a job's end as its task's.
type JobQueue interface {
	// PushJob is Push, given the job.
	PushJob(ctx context.Context, j *Job) error
	// ReleaseJob is Release, given the job as it now stands (nil: gone);
	// with again, retry is the reason an attempt failed, or "" when the job
	// is only handed back (its attempt did not end).
	ReleaseJob(ctx context.Context, id string, j *Job, again bool, retry string) error
	// RemoveJob is Remove, given the job that ended in line.
	RemoveJob(ctx context.Context, j *Job) error
}

// Admitter stores a new job and puts it in line in one step, with the
// checks admission makes: a backend whose job store and queue live on one
// server (Redis) makes a submission one round trip. Set it in
// Config.Admitter, over the same data as the Scheduler's Store and Queue.
type Admitter interface {
	// Peek reads, in one step, what admission decides on before it writes:
	// the job stored under id (nil if none), the jobs waiting at each
	// priority, and tenant's unfinished jobs.
	Peek(ctx context.Context, id, tenant string) (existing *Job, waiting map[Priority]int, unfinished int, err error)
	// CreateQueued stores job (state Queued) and puts it in line, unless a
	// job with its ID is stored: then it returns that one and false. In
	// the same step it refuses the job with ErrQueueFull when lim.MaxQueued
	// jobs of its priority wait, or ErrTenantQuota when its tenant has
	// lim.TenantMax unfinished jobs (0: no bound). waiting is how many jobs
	// waited at each priority before it.
	CreateQueued(ctx context.Context, job *Job, lim Limits) (stored *Job, created bool, waiting map[Priority]int, err error)
}

// Limits are the bounds an Admitter checks as it stores a job.
type Limits struct {
	MaxQueued int // jobs waiting at the job's priority
	TenantMax int // the job's tenant's unfinished jobs; 0: no bound
}

// BatchQueue is a Queue that puts many jobs in line in one step (a
// pipeline): Recover uses it for a backlog.
type BatchQueue interface {
	PushAll(ctx context.Context, jobs []*Job) error
}

// StrayStore is a Store that knows which unfinished jobs may be out of
// line: those stored (or started afresh) as queued whose push to the
// queue it has not seen yet, as a process that stopped between the two
// leaves them. A push through the queue clears a job from the list.
type StrayStore interface {
	// Strays lists them, among those so marked before t; only ID, State,
	// Priority and Tenant need be filled in. Ended jobs it drops.
	Strays(ctx context.Context, before time.Time) ([]*Job, error)
}

// ArchivingQueue is a Queue that may end a task on its own while its job
// is unfinished: asynq archives a task whose retries are spent on any
// error, a worker's death (its lease lapses) or a hand-back included, not
// only on the job's failure.
type ArchivingQueue interface {
	// Archived lists the unfinished jobs whose tasks it ended at or after
	// since, at a cost that grows with the tasks ended since, not with the
	// jobs in line; only ID, State, Priority and Tenant need be filled in.
	Archived(ctx context.Context, since time.Time) ([]*Job, error)
}

// Auditor records the events of jobs' lives. Record must be durable when
// it returns: a submission whose "submitted" event cannot be recorded is
// refused, so no stored job lacks one. Events carry neither the witness
// nor the proof.
type Auditor interface {
	Record(ctx context.Context, ev Event) error
}

// InputCipher encrypts jobs' witnesses at rest (package vault is one).
// The job's id and tenant are bound to each ciphertext.
type InputCipher interface {
	Encrypt(ctx context.Context, tenant, job string, witness []byte) (*Ciphertext, error)
	Decrypt(ctx context.Context, tenant, job string, c *Ciphertext) ([]byte, error)
}

// Notary signs the receipt of a job whose proof this process has just
// verified: the job is succeeded, with its result, public inputs, verifying
// key and backend set.
type Notary interface {
	Sign(j *Job) (*Receipt, error)
}

// Config tunes a Scheduler. The zero value is usable.
type Config struct {
	MaxQueued   int // jobs waiting at once at each priority; 0 means 10 000
	MaxAttempts int // tries per job for retryable failures; 0 means 3
	// MaxInterruptions is how often the process running a job may die
	// before the job is failed as the likely cause (a job that crashes
	// every prover it meets). A death costs no attempt: a crash loop of the
	// server leaves its jobs queued. 0 means 10.
	MaxInterruptions int
	Retention        time.Duration // how long finished jobs (and proofs) are kept; 0 means 24h
	Logger           *slog.Logger  // nil means slog.Default()
	Now              func() time.Time
	// VerifyingKey, when set, is asked at each submission: an error (the
	// circuit's keys cannot be used) refuses the job; a hash pins the job to
	// the verifying key its proof must check against, so a worker with other
	// keys refuses it; "" or nil pins nothing (workers share this process's
	// keys).
	VerifyingKey func(ctx context.Context, circuit string) (string, error)
	// Audit, when set, records every job's submission (before it is
	// stored), each attempt's start, and its end, whichever process makes
	// the change.
	Audit Auditor
	// Notary, when set, signs each success where the worker reports it,
	// and the receipt is stored with the result.
	Notary Notary
	// Inputs, when set, encrypts every admitted witness before it is
	// stored. Without it witnesses are stored in the clear: for tests of
	// the scheduler alone; a node always sets it.
	Inputs InputCipher
	// Poll, when set, rereads a watched job this often: for stores that
	// other processes change, in case a change notice is lost. 0 means
	// watches wake only on Notify and this scheduler's own writes.
	Poll time.Duration
	// Slots, when set, says how many proofs run at once on the workers
	// this process feeds. A submission with a deadline is then refused
	// (ErrDeadlineUnmeetable) when it is predicted to start after it: the
	// jobs ahead of it, over the slots, at the mean run time of the
	// proofs this process saw (none refused before it saw a few).
	Slots func() int
	// ForecastError, when set, gets how much later than predicted each
	// forecast job started (negative: earlier).
	ForecastError func(late time.Duration)
	// Admitter, when set, stores and queues new jobs in one step (see
	// Admitter); without it a submission reads, stores, then pushes.
	Admitter Admitter
	// Used, when set, gets what each outcome this process records adds to
	// usage (see Usage), once it is stored: once per attempt's report,
	// whichever process submitted the job.
	Used func(u Usage)
	// Tracing makes the spans of admissions and of results' writes, under
	// the request's span or the job's stored trace; nil makes none.
	Tracing trace.TracerProvider
}

// Request is a proof request as a client makes it.
type Request struct {
	Circuit string
	Input   []byte // the circuit's JSON input; or, instead:
	// Sealed is the input sealed by the client: admission waits for the
	// worker that opens it, and the idempotency key is bound to its bytes.
	Sealed         *SealedInput
	Priority       Priority
	Deadline       time.Time // zero: none
	IdempotencyKey string    // empty: derived from circuit and inputs
	// Tenant submits it: jobs of different tenants never share an ID, so
	// one tenant's submission never returns another's job.
	Tenant string
	// TenantMaxQueued bounds the tenant's unfinished jobs; 0: no bound.
	TenantMaxQueued int
	// DailyProofSeconds refuses the job (ErrUsageQuota) once the tenant's
	// attempts recorded today (UTC) took this many proof-seconds; 0: no
	// quota.
	DailyProofSeconds float64
}

// Scheduler admits jobs and hands them to workers.
type Scheduler struct {
	store Store
	queue Queue
	cfg   Config
	log   *slog.Logger

	// Transitions need no lock: the store's versioned writes order them,
	// across processes too. mu guards the watches, attempts and draining.
	mu       sync.Mutex
	changed  map[string]*watch
	attempts map[string]context.CancelCauseFunc // running here, by job id (Attempt)
	draining bool
	held     int // HoldSubmissions not yet released
	// admitting counts, per priority, submissions past the queue bound's
	// check and not yet stored: the check and the write are one step for
	// this process's submitters. admitMu guards it.
	admitMu   sync.Mutex
	admitting [numPriorities]int
	late      lateJobs
	forecast  forecast
	// archivedSince is where Reconcile's next look at the tasks an
	// ArchivingQueue ended starts (less archiveOverlap): the start of
	// this scheduler at first, which Recover at a node's start covers.
	// reconcileMu guards it.
	reconcileMu   sync.Mutex
	archivedSince time.Time
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
	if cfg.MaxInterruptions == 0 {
		cfg.MaxInterruptions = 10
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
	return &Scheduler{store: store, queue: queue, cfg: cfg, log: cfg.Logger, changed: map[string]*watch{}, attempts: map[string]context.CancelCauseFunc{}, archivedSince: cfg.Now()}
}

// HoldSubmissions refuses submissions with ErrRecovering until release is
// called: a starting server listens (and says NOT_SERVING) while it puts
// back in line what a previous process left, and admits new jobs after.
func (s *Scheduler) HoldSubmissions() (release func()) {
	s.mu.Lock()
	s.held++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.held--
			s.mu.Unlock()
		})
	}
}

// Recover puts every unfinished job back in line: queued ones, and running
// ones whose process died mid-proof (Next counts them another attempt). A
// shared queue absorbs the IDs it still holds, so any process may call it,
// at any time. A BatchQueue takes them in batches, not one by one.
func (s *Scheduler) Recover(ctx context.Context) (int, error) {
	n := 0
	requeue := func(j *Job) error {
		if err := s.queue.Push(ctx, j.ID, j.Class()); err != nil {
			return fmt.Errorf("scheduler: recover %s: %w", j.ID, err)
		}
		s.failAtDeadline(j)
		n++
		return nil
	}
	if w, ok := s.store.(unfinishedWalker); ok {
		if err := w.WalkUnfinished(ctx, requeue); err != nil {
			return n, fmt.Errorf("scheduler: recover: %w", err)
		}
		return n, nil
	}
	jobs, err := s.store.Unfinished(ctx)
	if err != nil {
		return 0, fmt.Errorf("scheduler: recover: %w", err)
	}
	if err := s.pushAll(ctx, jobs); err != nil {
		return 0, fmt.Errorf("scheduler: recover: %w", err)
	}
	for _, j := range jobs {
		s.failAtDeadline(j)
	}
	return len(jobs), nil
}

// unfinishedWalker is a Store that can walk its unfinished jobs, oldest
// first, without listing them (the embedded journal): a restart over a
// million queued jobs then holds no million-entry list. fn gets the same
// Job each time.
type unfinishedWalker interface {
	WalkUnfinished(ctx context.Context, fn func(*Job) error) error
}

// strayGrace is how long a job may be marked out of line before Reconcile
// pushes it: longer than a submission takes between its store and its
// push, replicas' wait included.
const strayGrace = 10 * time.Second

// archiveOverlap is how far back of the last look Reconcile reads the
// tasks an ArchivingQueue ended: asynq scores them in whole seconds by
// the clock of the process that archived them, which may lag this one's.
// Reading one again costs little: its job ended, or was pushed back (its
// task is then in line, no longer archived).
const archiveOverlap = 5 * time.Minute

// Reconcile is the periodic Recover of a shared queue. Over a StrayStore
// it pushes only the jobs stored as queued and never seen pushed (a
// process stopped between the two) and, over an ArchivingQueue, the
// unfinished jobs whose tasks the queue ended since its last look (a
// worker that died on a job's last retry): it costs nothing per queued
// job, and a job held by a worker that died is otherwise the queue's to
// hand out again (its lease lapses). Over another store it is Recover.
func (s *Scheduler) Reconcile(ctx context.Context) (int, error) {
	st, ok := s.store.(StrayStore)
	if !ok {
		return s.Recover(ctx)
	}
	now := s.cfg.Now()
	jobs, err := st.Strays(ctx, now.Add(-strayGrace))
	if err != nil {
		return 0, fmt.Errorf("scheduler: reconcile: %w", err)
	}
	aq, archiving := s.queue.(ArchivingQueue)
	if archiving {
		s.reconcileMu.Lock()
		since := s.archivedSince.Add(-archiveOverlap)
		s.reconcileMu.Unlock()
		ended, err := aq.Archived(ctx, since)
		if err != nil {
			return 0, fmt.Errorf("scheduler: reconcile: %w", err)
		}
		seen := make(map[string]bool, len(jobs))
		for _, j := range jobs {
			seen[j.ID] = true
		}
		for _, j := range ended {
			if !seen[j.ID] {
				seen[j.ID] = true
				jobs = append(jobs, j)
				s.log.Warn("job unfinished but its task archived (asynq ends a task whose retries are spent on any error: a worker's death, a hand-back); back in line",
					"job", j.ID, "state", j.State)
			}
		}
	}
	if err := s.pushAll(ctx, jobs); err != nil {
		return 0, fmt.Errorf("scheduler: reconcile: %w", err)
	}
	if archiving {
		s.reconcileMu.Lock()
		if now.After(s.archivedSince) {
			s.archivedSince = now
		}
		s.reconcileMu.Unlock()
	}
	return len(jobs), nil
}

func (s *Scheduler) pushAll(ctx context.Context, jobs []*Job) error {
	if len(jobs) == 0 {
		return nil
	}
	if bq, ok := s.queue.(BatchQueue); ok {
		return bq.PushAll(ctx, jobs)
	}
	for _, j := range jobs {
		if err := s.queue.Push(ctx, j.ID, j.Class()); err != nil {
			return fmt.Errorf("%s: %w", j.ID, err)
		}
	}
	return nil
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,128}$`)

// Submit validates a request and queues it, or returns the job already
// made for the same idempotency key (or, without a key, the same circuit and
// inputs). A key is bound to its circuit and statement: reusing it for
// another is ErrKeyReused, never the other job. A cancelled job, or one that failed for a reason another try
// could fix, is started afresh under its id. The input is decoded and
// checked here, once: the job keeps its witness. Errors carry their
// errcode: an input error matches the input.Err* kinds, an unknown circuit
// circuits.ErrUnknownCircuit.
func (s *Scheduler) Submit(ctx context.Context, req Request) (*Job, bool, error) {
	// The job carries the request's span (the RPC's) to the worker; a
	// request without one is traced from its admission.
	actx, span := s.tracer().Start(ctx, "admission", trace.WithAttributes(attribute.String("proofmill.circuit", req.Circuit),
		attribute.String("proofmill.priority", req.Priority.String())))
	if req.Tenant != "" {
		span.SetAttributes(attribute.String("proofmill.tenant", req.Tenant))
	}
	carrier := traceCarrier(ctx)
	if carrier == nil {
		carrier = traceCarrier(actx)
	}
	j, created, err := s.submit(actx, req, carrier)
	if j != nil {
		span.SetAttributes(attribute.String("proofmill.job", j.ID), attribute.Bool("proofmill.created", created))
	}
	spans.End(span, err)
	return j, created, err
}

func (s *Scheduler) submit(ctx context.Context, req Request, carrier map[string]string) (*Job, bool, error) {
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
	job := &Job{Tenant: req.Tenant, Circuit: c.ID, Priority: req.Priority, Deadline: req.Deadline, IdempotencyKey: req.IdempotencyKey,
		State: Queued, Submitted: now, Version: 1, Trace: carrier}
	id := "key:" + req.IdempotencyKey
	if req.Sealed != nil {
		if err := checkSealed(req); err != nil {
			return nil, false, err
		}
		// The server cannot read the statement: the key is bound to the
		// ciphertext, and a job without a key is named by it.
		job.Sealed = &SealedInput{KeyID: req.Sealed.KeyID, Data: req.Sealed.Data}
		job.Statement = statementDigest(c.ID, append([]byte("sealed\x00"+req.Sealed.KeyID+"\x00"), req.Sealed.Data...))
		if req.IdempotencyKey == "" {
			id = "sealed:" + job.Statement
		}
	} else {
		_, span := spans.Start(ctx, "admission.decode_check") // decoding and the native rules are one step in every circuit's Assign
		st, err := c.Admit(req.Input)                         // admission: the statement must hold
		spans.End(span, err)
		if err != nil {
			return nil, false, err
		}
		job.Witness, job.Statement = st.Witness, statementDigest(c.ID, st.Witness)
		if req.IdempotencyKey == "" {
			id = c.JobKey(st)
		}
	}
	if req.Tenant != "" {
		id = "tenant:" + req.Tenant + "\x00" + id
	}
	sum := sha256.Sum256([]byte(id))
	job.ID = hex.EncodeToString(sum[:16])
	if s.cfg.VerifyingKey != nil {
		kctx, span := spans.Start(ctx, "admission.keys")
		job.VerifyingKey, err = s.cfg.VerifyingKey(kctx, c.ID)
		spans.End(span, err)
		if err != nil {
			return nil, false, fmt.Errorf("scheduler: keys of %s: %w", c.ID, err)
		}
	}

	s.mu.Lock()
	draining, held := s.draining, s.held > 0
	s.mu.Unlock()
	switch {
	case draining:
		return nil, false, ErrDraining
	case held:
		return nil, false, ErrRecovering
	}
	if err := s.checkQuota(ctx, job, req.DailyProofSeconds); err != nil {
		return nil, false, err
	}
	ctx, span := spans.Start(ctx, "admission.journal_write") // the bounds' checks, the audit record, the store and the queue
	for {
		stored, created, err := s.admit(ctx, job, req.TenantMaxQueued)
		if !errors.Is(err, ErrConflict) {
			spans.End(span, err)
			return stored, created, err
		}
	}
}

// admit stores and queues a new job, or returns the stored one. Another
// process may write the same job meanwhile: ErrConflict means read again.
// The "submitted" event is recorded before the job is stored.
func (s *Scheduler) admit(ctx context.Context, job *Job, tenantMax int) (*Job, bool, error) {
	if s.cfg.Admitter != nil {
		return s.admitOne(ctx, job, tenantMax)
	}
	existing, err := s.store.Get(ctx, job.ID)
	switch {
	case err == nil:
		if stored, done, err := s.decide(existing, job); done {
			return stored, false, err
		}
	case !errors.Is(err, ErrNotFound):
		return nil, false, fmt.Errorf("scheduler: submit: %w", err)
	default:
		existing = nil
	}
	return s.admitAfter(ctx, job, tenantMax, existing)
}

// decide answers a submission whose job is stored already: done with the
// stored job, or with ErrKeyReused; not done if the job may run afresh.
func (s *Scheduler) decide(existing, job *Job) (*Job, bool, error) {
	switch {
	case !sameRequest(existing, job):
		return nil, true, fmt.Errorf("scheduler: %w: key %q names job %s, made for %s with another statement",
			ErrKeyReused, job.IdempotencyKey, existing.ID, existing.Circuit)
	case !retriable(existing):
		return existing, true, nil
	}
	return nil, false, nil
}

// admitOne admits a job through the Admitter: one step checks for the job
// and the bounds, stores it and puts it in line. A read goes first where
// the decision must precede the write: an audit log records a submission
// before its job is stored (and records no duplicate), and a forecast may
// refuse a deadline. A job to start afresh takes the general path.
func (s *Scheduler) admitOne(ctx context.Context, job *Job, tenantMax int) (*Job, bool, error) {
	var waiting map[Priority]int
	var predicted Prediction
	var forecast bool
	peek := s.cfg.Audit != nil || (!job.Deadline.IsZero() && s.cfg.Slots != nil)
	if peek {
		existing, w, unfinished, err := s.cfg.Admitter.Peek(ctx, job.ID, job.Tenant)
		if err != nil {
			return nil, false, fmt.Errorf("scheduler: submit: %w", err)
		}
		if existing != nil {
			if stored, done, err := s.decide(existing, job); done {
				return stored, false, err
			}
			return s.admitAfter(ctx, job, tenantMax, existing)
		}
		if w[job.Priority] >= s.cfg.MaxQueued {
			return nil, false, fmt.Errorf("scheduler: %w: %d %s jobs waiting", ErrQueueFull, s.cfg.MaxQueued, job.Priority)
		}
		if tenantMax > 0 && unfinished >= tenantMax {
			return nil, false, fmt.Errorf("scheduler: tenant %s: %w: %d unfinished jobs", job.Tenant, ErrTenantQuota, tenantMax)
		}
		if predicted, forecast, err = s.checkDeadline(job, w); err != nil {
			return nil, false, err
		}
		waiting = w
	}
	fresh, err := s.sealed(ctx, job)
	if err != nil {
		return nil, false, err
	}
	if err := s.record(ctx, EventSubmitted, fresh); err != nil {
		return nil, false, fmt.Errorf("scheduler: submit: audit log: %w", err)
	}
	fresh.Queued = s.cfg.Now() // its wait starts as it is written
	stored, created, w, err := s.cfg.Admitter.CreateQueued(ctx, fresh, Limits{MaxQueued: s.cfg.MaxQueued, TenantMax: tenantMax})
	switch {
	case err != nil:
		return nil, false, fmt.Errorf("scheduler: submit: %w", err)
	case !created && peek:
		return nil, false, ErrConflict // written meanwhile: read it again
	case !created:
		if stored, done, err := s.decide(stored, job); done {
			return stored, false, err
		}
		return s.admitAfter(ctx, job, tenantMax, stored)
	}
	if waiting == nil {
		predicted, forecast, _ = s.checkDeadline(job, w) // no deadline to refuse: a forecast to track
	}
	if forecast {
		s.forecast.track(fresh.ID, predicted.Start)
	}
	s.failAtDeadline(fresh)
	return fresh, true, nil
}

// sealed is the job as it is stored: its witness encrypted, if inputs are.
func (s *Scheduler) sealed(ctx context.Context, job *Job) (*Job, error) {
	fresh := job.clone()
	if s.cfg.Inputs != nil && len(fresh.Witness) > 0 {
		var err error
		if fresh.EncryptedWitness, err = s.cfg.Inputs.Encrypt(ctx, fresh.Tenant, fresh.ID, fresh.Witness); err != nil {
			return nil, fmt.Errorf("scheduler: submit: encrypting the input: %w", err)
		}
		fresh.Witness = nil
	}
	return fresh, nil
}

// admitAfter admits job once the stored one (nil: none) has been read:
// it checks the bounds, then stores the job (or starts the stored one
// afresh) and pushes it.
func (s *Scheduler) admitAfter(ctx context.Context, job *Job, tenantMax int, existing *Job) (*Job, bool, error) {
	release, waiting, err := s.reserve(ctx, job.Priority)
	if err != nil {
		return nil, false, err
	}
	defer release()
	if tenantMax > 0 {
		if n, err := s.store.CountUnfinished(ctx, job.Tenant); err != nil {
			return nil, false, fmt.Errorf("scheduler: submit: %w", err)
		} else if n >= tenantMax {
			return nil, false, fmt.Errorf("scheduler: tenant %s: %w: %d unfinished jobs", job.Tenant, ErrTenantQuota, tenantMax)
		}
	}
	predicted, forecast, err := s.checkDeadline(job, waiting)
	if err != nil {
		return nil, false, err
	}
	fresh, err := s.sealed(ctx, job)
	if err != nil {
		return nil, false, err
	}
	if err := s.record(ctx, EventSubmitted, fresh); err != nil {
		return nil, false, fmt.Errorf("scheduler: submit: audit log: %w", err)
	}
	fresh.Queued = s.cfg.Now() // its wait starts as it is written
	if existing != nil {
		// Start it afresh under the same id.
		fresh.Version = existing.Version
		if err := s.save(ctx, fresh, existing.State); err != nil {
			return nil, false, err
		}
	} else {
		_, created, err := s.store.Create(ctx, fresh)
		if err != nil {
			return nil, false, fmt.Errorf("scheduler: submit: %w", err)
		}
		if !created {
			return nil, false, ErrConflict // read it again
		}
	}
	// Stored but not yet in line: a crash here leaves the job for Recover.
	if err := s.push(ctx, fresh); err != nil {
		return nil, false, fmt.Errorf("scheduler: submit: %w", err)
	}
	if forecast {
		s.forecast.track(fresh.ID, predicted.Start)
	}
	s.failAtDeadline(fresh)
	return fresh, true, nil
}

// statementDigest is what an idempotency key is bound to: the circuit and
// the canonical witness, so the same statement however its JSON is written
// is the same request.
func statementDigest(circuit string, witness []byte) string {
	h := sha256.New()
	h.Write([]byte(circuit))
	h.Write([]byte{0})
	h.Write(witness)
	return hex.EncodeToString(h.Sum(nil))
}

// sameRequest reports whether a stored job was made for the request that
// made job: the same circuit and statement. A job stored before jobs kept
// their statement digest is compared by its witness; one that kept only
// its JSON input cannot be compared, and is taken as the same.
func sameRequest(stored, job *Job) bool {
	if stored.Circuit != job.Circuit {
		return false
	}
	switch {
	case stored.Statement != "":
		return stored.Statement == job.Statement
	case len(stored.Witness) > 0:
		return statementDigest(stored.Circuit, stored.Witness) == job.Statement
	}
	return true
}

// retriable reports whether a resubmission may run a stored job again: it
// was cancelled, or failed for a reason outside the request (its deadline,
// its attempts, keys a worker lacked, a damaged record). A job whose
// statement is false or whose input is bad, and any job still live or
// succeeded, is returned as is.
func retriable(j *Job) bool {
	switch {
	case j.State == Cancelled:
		return true
	case j.State != Failed:
		return false
	}
	switch errcode.Code(j.ErrorKind) {
	case errcode.Unsatisfied, errcode.InvalidInput, errcode.BadRequest, errcode.UnknownCircuit, errcode.TooLarge:
		return false
	}
	return true
}

// reserve takes a place in line at priority p for a submission, or fails
// with ErrQueueFull; release gives it back once the job is stored (and so
// counted) or refused.
// The count is read under the lock, so it includes every job a released
// reservation stored. (Servers sharing Redis each keep their own
// reservations: together they may pass the bound by their submissions in
// flight.)
func (s *Scheduler) reserve(ctx context.Context, p Priority) (release func(), waiting map[Priority]int, err error) {
	s.admitMu.Lock()
	defer s.admitMu.Unlock()
	w, err := s.store.CountQueued(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("scheduler: submit: counting the jobs waiting: %w", err)
	}
	if w[p]+s.admitting[p] >= s.cfg.MaxQueued {
		return nil, nil, fmt.Errorf("scheduler: %w: %d %s jobs waiting", ErrQueueFull, s.cfg.MaxQueued, p)
	}
	for q, n := range s.admitting {
		w[Priority(q)] += n // admitted before this one, not yet stored
	}
	s.admitting[p]++
	return func() {
		s.admitMu.Lock()
		s.admitting[p]--
		s.admitMu.Unlock()
	}, w, nil
}

// Waiting returns how many jobs wait at each priority.
func (s *Scheduler) Waiting(ctx context.Context) (map[Priority]int, error) {
	w, err := s.store.CountQueued(ctx)
	if err != nil {
		return nil, fmt.Errorf("scheduler: jobs waiting: %w", err)
	}
	return w, nil
}

// Get returns a job.
func (s *Scheduler) Get(ctx context.Context, id string) (*Job, error) {
	return s.store.Get(ctx, id)
}

// change applies edit to the stored job and saves it, reading again when
// another writer got there first. edit returns false to save nothing.
func (s *Scheduler) change(ctx context.Context, id string, edit func(j *Job) (bool, error)) (*Job, error) {
	return s.changeWith(ctx, id, edit, nil, nil)
}

// changeWith is change; usage, when set, is asked after each edit that
// writes what the change adds to usage (nil: nothing), stored in the same
// write; written, when set, runs once the change is stored, before
// watchers wake.
func (s *Scheduler) changeWith(ctx context.Context, id string, edit func(j *Job) (bool, error), usage func() *Usage, written func()) (*Job, error) {
	for {
		j, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		was := j.State
		write, err := edit(j)
		if err != nil || !write {
			return j, err
		}
		var u *Usage
		if usage != nil {
			u = usage()
		}
		if err = s.saveWith(ctx, j, was, u, written); !errors.Is(err, ErrConflict) {
			return j, err
		}
	}
}

// CancellingQueue is a Queue that carries the cancel of a running job to
// the process holding it, when that may be another process (Redis: a
// worker elsewhere). A queue only one process uses needs none: the
// scheduler tells its own attempts (Attempt).
type CancellingQueue interface {
	// CancelHeld tells whichever process holds id (popped, not released)
	// that its job was cancelled; none holding it is no error.
	CancelHeld(ctx context.Context, id string) error
	// OnCancel calls fn when a CancelHeld for id reaches this process,
	// until stop is called.
	OnCancel(id string, fn func()) (stop func())
}

// ErrCancelled is the cause of an attempt's context (Attempt) that ended
// because its job was cancelled.
var ErrCancelled = errcode.New(errcode.Cancelled, "job cancelled while it ran")

// Cancel cancels a queued or running job. A running job ends Cancelled at
// once: whatever its attempt reports later is dropped (Finish), and the
// attempt is told (Attempt's context ends), here or, through a
// CancellingQueue, in the process running it. Whether its work stops then
// is the prover's: a proof in a supervised process is killed, one in this
// process finishes in the background. A finished job is not cancelled:
// ErrNotQueued.
func (s *Scheduler) Cancel(ctx context.Context, id string) (*Job, error) {
	was := Queued
	j, err := s.change(ctx, id, func(j *Job) (bool, error) {
		was = j.State
		switch j.State {
		case Cancelled:
			return false, nil // a retried cancel
		case Queued:
			s.finish(j, Cancelled, errcode.Cancelled, "cancelled by the client")
			return true, nil
		case Running:
			s.finish(j, Cancelled, errcode.Cancelled, "cancelled by the client while it ran; its proof, if any comes, is dropped")
			return true, nil
		}
		return false, fmt.Errorf("scheduler: cancel %s: %w (it is %s)", id, ErrNotQueued, j.State)
	})
	if err != nil {
		if errors.Is(err, ErrNotQueued) {
			return j, err
		}
		return nil, err
	}
	s.forecast.forget(id)
	if was == Running {
		// Its worker holds it in the queue and releases it as it stops.
		s.stopAttempt(ctx, id)
		return j, nil
	}
	// After the save: a failed save leaves the job in line. A worker that
	// pops it meanwhile finds it cancelled and skips it.
	if err := s.remove(ctx, j); err != nil {
		s.log.Warn("scheduler: cancelled job stays in line", "job", id, "err", err)
	}
	return j, nil
}

// stopAttempt tells a cancelled job's running attempt, in this process and,
// through a CancellingQueue, in the one holding it. The job is cancelled
// already: a lost signal only lets the proof run on, its result dropped.
func (s *Scheduler) stopAttempt(ctx context.Context, id string) {
	s.mu.Lock()
	stop := s.attempts[id]
	s.mu.Unlock()
	if stop != nil {
		stop(ErrCancelled)
	}
	if cq, ok := s.queue.(CancellingQueue); ok {
		if err := cq.CancelHeld(context.WithoutCancel(ctx), id); err != nil {
			s.log.Warn("scheduler: could not tell the worker running a cancelled job; its proof runs on and is dropped", "job", id, "err", err)
		}
	}
}

// Attempt returns the context a worker runs job j (from Next) under: it
// ends, with cause ErrCancelled, when the job is cancelled, by this
// process or another sharing a CancellingQueue, or when ctx ends. Call
// done when the attempt ends.
func (s *Scheduler) Attempt(ctx context.Context, j *Job) (context.Context, context.CancelFunc) {
	actx, stop := context.WithCancelCause(ctx)
	s.mu.Lock()
	s.attempts[j.ID] = stop
	s.mu.Unlock()
	unsubscribe := func() {}
	if cq, ok := s.queue.(CancellingQueue); ok {
		unsubscribe = cq.OnCancel(j.ID, func() { stop(ErrCancelled) })
	}
	return actx, func() {
		unsubscribe()
		s.mu.Lock()
		delete(s.attempts, j.ID)
		s.mu.Unlock()
		stop(context.Canceled)
	}
}

// Next blocks until a job may run, marks it running and returns it. Jobs
// cancelled meanwhile are skipped; jobs past their deadline fail without
// running. A job popped while marked running was held by a process that
// died (or lost its hold): it runs again, and the death is counted as an
// interruption, not as one of its MaxAttempts.
func (s *Scheduler) Next(ctx context.Context) (*Job, error) {
	for {
		id, err := s.queue.Pop(ctx)
		if err != nil {
			return nil, err
		}
		j, ok, err := s.start(ctx, id)
		if err != nil {
			s.release(ctx, id, j, true) // the store failed; keep the job in line
			return nil, err
		}
		if ok {
			s.record(ctx, EventStarted, j)
			return j, nil
		}
		s.release(ctx, id, j, false)
	}
}

// release ends the queue's hold on a popped ID. j may be nil (the job is
// gone); its class only matters when the ID goes back in line.
func (s *Scheduler) release(ctx context.Context, id string, j *Job, again bool) {
	s.releaseRetry(ctx, id, j, again, "")
}

// releaseRetry is release; retry, with again, is why an attempt failed.
func (s *Scheduler) releaseRetry(ctx context.Context, id string, j *Job, again bool, retry string) {
	ctx = context.WithoutCancel(ctx)
	var err error
	if jq, ok := s.queue.(JobQueue); ok {
		err = jq.ReleaseJob(ctx, id, j, again, retry)
	} else {
		var c Class
		if j != nil {
			c = j.Class()
		}
		err = s.queue.Release(ctx, id, c, again)
	}
	if err != nil {
		s.log.Error("scheduler: release", "job", id, "again", again, "err", err)
	}
}

// push puts a job in line, telling a JobQueue the job.
func (s *Scheduler) push(ctx context.Context, j *Job) error {
	if jq, ok := s.queue.(JobQueue); ok {
		return jq.PushJob(ctx, j)
	}
	return s.queue.Push(ctx, j.ID, j.Class())
}

// remove takes a job that ended in line out of it, telling a JobQueue the
// job.
func (s *Scheduler) remove(ctx context.Context, j *Job) error {
	if jq, ok := s.queue.(JobQueue); ok {
		return jq.RemoveJob(ctx, j)
	}
	return s.queue.Remove(ctx, j.ID, j.Class())
}

func (s *Scheduler) start(ctx context.Context, id string) (*Job, bool, error) {
	started := false
	j, err := s.change(ctx, id, func(j *Job) (bool, error) {
		started = false
		if j.State.Terminal() {
			return false, nil
		}
		now := s.cfg.Now()
		if j.State == Running {
			// Its process died mid-proof: that attempt never ended, so it
			// does not count against MaxAttempts; the death counts apart.
			j.Interruptions++
			s.log.Warn("job was running in a process that stopped; running it again", "job", j.ID,
				"interruptions", j.Interruptions, "max_interruptions", s.cfg.MaxInterruptions)
		}
		switch {
		case !j.Deadline.IsZero() && !now.Before(j.Deadline):
			s.finish(j, Failed, errcode.DeadlineExceeded, fmt.Sprintf("deadline %s passed before the job could start", j.Deadline.Format(time.RFC3339)))
		case j.Interruptions >= s.cfg.MaxInterruptions:
			// Do not let one poison job crash every worker in turn.
			s.finish(j, Failed, errcode.AttemptsExceeded, fmt.Sprintf("the process proving it stopped %d times while it ran", j.Interruptions))
		default:
			j.State, j.Started, j.Attempts, j.Stage = Running, now, j.Attempts+1, ""
			started = true
		}
		return true, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, false, nil
	case err != nil:
		return j, false, fmt.Errorf("scheduler: start %s: %w", id, err)
	}
	if late, ok := s.forecast.started(id, j.Started); ok && started && s.cfg.ForecastError != nil {
		s.cfg.ForecastError(late)
	}
	return j, started, nil
}

// Outcome is what a worker reports for a job it ran.
type Outcome struct {
	Attempt int    // the job's Attempts when it started; 0 matches any
	Backend string // the device that proved it, or tried to
	// On success: the proof file, its public inputs and the SHA-256 of the
	// verifying key it verified against.
	Result       []byte
	PublicInputs []PublicInput
	VerifyingKey string
	// Err is nil on success. Its errcode says whether another attempt may
	// succeed, and is the job's ErrorKind if it fails for good.
	Err error
	// NotRun: the attempt stopped before it proved anything (a shutdown
	// while the circuit's keys were being made): the job goes back in line
	// and the attempt is not counted. Err is then ignored.
	NotRun bool
}

// Finish records a worker's outcome: success, a permanent failure, or a
// retryable failure that is re-queued until MaxAttempts. A report for an
// attempt that is no longer the job's current one, or for a job cancelled
// while it ran, changes nothing, so a job has one result however often it
// ran, and a cancelled job none. If the store fails, the job goes
// back in line (it runs again) and the error is returned.
func (s *Scheduler) Finish(ctx context.Context, id string, o Outcome) error {
	// The result's write is traced up to its commit: a watcher woken by
	// it (a Prove call) ends after the span does.
	_, span := s.tracer().Start(ctx, "job.result_write", trace.WithAttributes(attribute.String("proofmill.job", id), attribute.Int("proofmill.attempt", o.Attempt)))
	ended := false
	committed := func() {
		if !ended {
			ended = true
			span.End()
		}
	}
	defer committed()
	again, succeeded, dropped := false, false, false
	retry := ""
	code := errcode.Of(o.Err)
	var use *Usage
	j, err := s.changeWith(ctx, id, func(j *Job) (bool, error) {
		again, succeeded, use = false, false, nil
		if j.State != Running || (o.Attempt != 0 && o.Attempt != j.Attempts) {
			dropped = j.State == Cancelled && o.Err == nil
			return false, nil // a duplicate or stale report, or a cancelled job's
		}
		j.Stage = ""
		if o.NotRun {
			j.State, j.Attempts, again = Queued, j.Attempts-1, true
			return true, nil
		}
		j.Backend = o.Backend
		if o.Err == nil && j.VerifyingKey != "" && o.VerifyingKey != j.VerifyingKey {
			// Proved with other keys than the job was pinned to: never
			// release it as this job's proof.
			o = Outcome{Backend: o.Backend, Err: errcode.Errorf(errcode.KeyMismatch, "proved with verifying key %.12s…, the job needs %.12s…", o.VerifyingKey, j.VerifyingKey)}
			code = errcode.KeyMismatch
		}
		retriable := code.Entry().Retry != errcode.Never
		switch {
		case o.Err == nil:
			j.Result, j.PublicInputs = o.Result, o.PublicInputs
			if o.VerifyingKey != "" {
				j.VerifyingKey = o.VerifyingKey
			}
			s.finish(j, Succeeded, "", "")
			succeeded = true
			if s.cfg.Notary != nil {
				r, err := s.cfg.Notary.Sign(j)
				if err != nil {
					return false, fmt.Errorf("scheduler: sign receipt: %w", err)
				}
				j.Receipt = r
			}
		case retriable && j.Attempts-j.Interruptions < s.cfg.MaxAttempts:
			j.State, j.Error, again, j.Queued = Queued, o.Err.Error(), true, s.cfg.Now()
			retry = fmt.Sprintf("%s: attempt %d of %d failed: %s", code, j.Attempts-j.Interruptions, s.cfg.MaxAttempts, j.Error)
		case retriable:
			s.finish(j, Failed, errcode.AttemptsExceeded, fmt.Sprintf("failed %d times; last error: %v", j.Attempts-j.Interruptions, o.Err))
		default:
			s.finish(j, Failed, code, o.Err.Error())
		}
		use = s.attemptUsage(j, o.Backend, succeeded, s.cfg.Now())
		return true, nil
	}, func() *Usage { return use }, committed)
	if err != nil {
		if !ended {
			ended = true
			spans.End(span, err)
		}
		s.release(ctx, id, j, !errors.Is(err, ErrNotFound))
		return fmt.Errorf("scheduler: finish %s: %w", id, err)
	}
	if dropped {
		s.log.Info("a cancelled job's proof arrived; dropped", "job", id, "backend", o.Backend)
	}
	if again && o.NotRun {
		s.log.Info("job handed back before it ran; back in line", "job", j.ID)
	} else if again {
		s.log.Warn("job failed; retrying", "job", j.ID, "attempt", j.Attempts, "kind", code, "err", o.Err)
	}
	if succeeded {
		s.forecast.observe(j.Finished.Sub(j.Started))
	}
	s.releaseRetry(ctx, id, j, again, retry)
	return nil
}

// finish ends a job, and forgets its input: only results are retained.
func (s *Scheduler) finish(j *Job, state State, kind errcode.Code, reason string) {
	j.State, j.ErrorKind, j.Error, j.Finished, j.Stage = state, string(kind), reason, s.cfg.Now(), ""
	j.DropInput()
}

// Progress records the stage a running job's attempt reached, for its
// watchers, whichever process watches: it is a write of the job (its
// version changes). A report for an attempt that is no longer running,
// or of the stage the job is at, changes nothing.
func (s *Scheduler) Progress(ctx context.Context, id string, attempt int, stage Stage) error {
	_, err := s.change(ctx, id, func(j *Job) (bool, error) {
		if j.State != Running || j.Attempts != attempt || j.Stage == stage {
			return false, nil
		}
		j.Stage = stage
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("scheduler: progress %s: %w", id, err)
	}
	return nil
}

// Witness returns a job's admitted witness, decrypted if it is encrypted
// at rest; nil for a job whose input is sealed or legacy JSON (the worker
// admits those) or gone. The caller keeps it in memory only.
func (s *Scheduler) Witness(ctx context.Context, j *Job) ([]byte, error) {
	if j.EncryptedWitness == nil {
		return j.Witness, nil
	}
	if s.cfg.Inputs == nil {
		return nil, errcode.Errorf(errcode.DataKey, "job %s: its input is encrypted at rest and this process has no data keys", j.ID)
	}
	return s.cfg.Inputs.Decrypt(ctx, j.Tenant, j.ID, j.EncryptedWitness)
}

// MaxSealedBytes bounds a sealed input: the largest document the circuits
// take (input.MaxDocumentBytes) and HPKE's overhead, with room to spare.
const MaxSealedBytes = 4<<20 + 4096

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// checkSealed checks what the server can see of a sealed input.
func checkSealed(req Request) error {
	switch {
	case len(req.Input) > 0:
		return fmt.Errorf("scheduler: %w: give the input or a sealed input, not both", ErrSealedRequest)
	case !keyIDPattern.MatchString(req.Sealed.KeyID):
		return fmt.Errorf("scheduler: %w: sealed_input.key_id must be 1 to 64 of A-Z a-z 0-9 . _ : -", ErrSealedRequest)
	case len(req.Sealed.Data) == 0:
		return fmt.Errorf("scheduler: %w: sealed_input.ciphertext is empty", ErrSealedRequest)
	case len(req.Sealed.Data) > MaxSealedBytes:
		return errcode.Errorf(errcode.TooLarge, "scheduler: sealed_input.ciphertext is %d bytes, over the %d-byte limit", len(req.Sealed.Data), MaxSealedBytes)
	}
	return nil
}

// save writes a changed job (was is its state before the change), wakes
// its watchers, and records its end if it just ended.
func (s *Scheduler) save(ctx context.Context, j *Job, was State) error {
	return s.saveWith(ctx, j, was, nil, nil)
}

// saveWith is save, adding u (nil: nothing) to usage in the same write
// where the store keeps usage; written, when set, runs once the job is
// stored, before its watchers wake.
func (s *Scheduler) saveWith(ctx context.Context, j *Job, was State, u *Usage, written func()) error {
	j.Version++
	var err error
	if us, ok := s.store.(UsageStore); ok && u != nil {
		err = us.UpdateCounting(ctx, j, *u)
	} else {
		err = s.store.Update(ctx, j)
	}
	if err != nil {
		j.Version--
		return fmt.Errorf("scheduler: save %s: %w", j.ID, err)
	}
	if u != nil && s.cfg.Used != nil {
		s.cfg.Used(*u)
	}
	if written != nil {
		written()
	}
	s.Notify(j.ID)
	if j.State.Terminal() && !was.Terminal() {
		s.record(ctx, string(j.State), j)
	}
	return nil
}

// record sends an event to the auditor. Only a submission fails with it;
// other events are written after the change and logged if they fail.
func (s *Scheduler) record(ctx context.Context, kind string, j *Job) error {
	if s.cfg.Audit == nil {
		return nil
	}
	ev := Event{Kind: kind, Job: j.clone()}
	ev.Job.Witness, ev.Job.LegacyInput, ev.Job.Result = nil, nil, nil // the audit log holds no inputs or proofs
	err := s.cfg.Audit.Record(context.WithoutCancel(ctx), ev)
	if err != nil && kind != EventSubmitted {
		s.log.Error("scheduler: audit log", "job", j.ID, "event", kind, "err", err)
	}
	return err
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
