package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/spans"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

// Jobs is the scheduler side of the pool.
type Jobs interface {
	Next(ctx context.Context) (*scheduler.Job, error)
	Finish(ctx context.Context, id string, o scheduler.Outcome) error
	// Progress records the stage a job's attempt reached, for its watchers.
	Progress(ctx context.Context, id string, attempt int, stage scheduler.Stage) error
	// Witness decrypts a job's witness where it is encrypted at rest.
	Witness(ctx context.Context, j *scheduler.Job) ([]byte, error)
	// Attempt is the context a job runs under: it ends when the job is
	// cancelled (cause scheduler.ErrCancelled). done ends it.
	Attempt(ctx context.Context, j *scheduler.Job) (actx context.Context, done context.CancelFunc)
}

// InputKeys opens sealed inputs with the input keys this worker holds.
type InputKeys interface {
	// Open returns the plaintext input sealed to keyID for the tenant and
	// circuit: an error coded InputKeyMissing when this worker lacks the
	// key (another may hold it), SealedInvalid when it does not open.
	Open(keyID, tenant, circuit string, sealed []byte) ([]byte, error)
}

// Prover proves an admitted statement's witness; *prover.Prover is one.
type Prover interface {
	ProveWitness(ctx context.Context, c *circuits.Circuit, witness []byte) (*prover.Proof, error)
	// LoadKeys returns c's keys, or stops waiting for them when ctx ends.
	LoadKeys(ctx context.Context, c *circuits.Circuit) (*prover.Keys, error)
}

// Config sizes a Pool. The zero value is usable.
type Config struct {
	// Slots is how many jobs run at once; 0 runs none, and a negative
	// value means DefaultSlots. gnark spreads one proof over every core,
	// but two proofs overlap each other's serial phases (1.27× raw
	// throughput measured on 2 cores).
	Slots  int
	Logger *slog.Logger // nil means slog.Default()
	// InputKeys opens sealed jobs; nil: this worker holds no input keys,
	// and hands sealed jobs back for one that does.
	InputKeys InputKeys
	// Observe, when set, is called after every attempt (for metrics).
	Observe func(job *scheduler.Job, o scheduler.Outcome, took time.Duration)
	// Tracing makes each attempt's spans, under the trace its job
	// carries; nil makes none.
	Tracing trace.TracerProvider
}

// ErrKeyMismatch: the worker's verifying key differs from the job's.
var ErrKeyMismatch = errcode.New(errcode.KeyMismatch, "verifying key mismatch")

// Pool runs jobs on a fixed number of slots.
type Pool struct {
	jobs   Jobs
	prover Prover
	cfg    Config
	log    *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
	// stopTaking ends the loops' wait for jobs; abort ends the running
	// proofs' waits (for a free device) once Shutdown's bound passes.
	stopTaking, abort context.CancelFunc
	wg                sync.WaitGroup
	busy              atomic.Int64
}

// DefaultSlots sizes a pool to the machine: 2 + NumCPU/16.
func DefaultSlots() int { return 2 + runtime.NumCPU()/16 }

// New returns a pool; Start runs it.
func New(jobs Jobs, p Prover, cfg Config) *Pool {
	if cfg.Slots < 0 {
		cfg.Slots = DefaultSlots()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pool{jobs: jobs, prover: p, cfg: cfg, log: cfg.Logger}
}

// Slots is the pool's size.
func (p *Pool) Slots() int { return p.cfg.Slots }

// Busy is how many slots are proving now.
func (p *Pool) Busy() int { return int(p.busy.Load()) }

// Start starts the slots. A pool starts once; Start after Shutdown does
// nothing.
func (p *Pool) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started = true
	taking, stopTaking := context.WithCancel(context.Background())
	running, abort := context.WithCancel(context.Background())
	p.stopTaking, p.abort = stopTaking, abort
	for range p.cfg.Slots {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.loop(taking, running)
		}()
	}
}

// Shutdown stops taking jobs and waits for running ones to finish, or for
// ctx to end. A job still waiting for its circuit's keys goes back in line
// at once (Outcome.NotRun), without waiting for a setup under way. If ctx ends first, it aborts the running jobs' contexts: a
// job still waiting to prove (for a free device) goes back in line, and a
// proof already running, which nothing can interrupt, finishes on its own;
// its result is recorded if the job store is still open, else the job runs
// again. Shutdown may be called again, to wait longer.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	started := p.started
	p.stopped = true
	p.mu.Unlock()
	if !started {
		return nil
	}
	p.stopTaking()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		p.abort()
		return nil
	case <-ctx.Done():
		p.abort()
		return errcode.Errorf(errcode.Internal, "worker: shutdown: %d jobs still running when the bound passed: %w", p.Busy(), ctx.Err())
	}
}

// loop takes jobs until taking ends; each runs under running.
func (p *Pool) loop(taking, running context.Context) {
	for {
		job, err := p.jobs.Next(taking)
		if err != nil {
			if taking.Err() != nil {
				return
			}
			p.log.Error("worker: next job", "err", err)
			select { // the store is failing; do not spin
			case <-time.After(time.Second):
			case <-taking.Done():
				return
			}
			continue
		}
		p.busy.Add(1)
		start := time.Now()
		traced := job.TraceContext(running)
		attempt, done := p.jobs.Attempt(traced, job)
		ctx, span := p.attempt(attempt, job)
		o := p.run(taking, ctx, job)
		done()
		o.Attempt = job.Attempts
		took := time.Since(start)
		p.busy.Add(-1)
		if p.cfg.Observe != nil && !o.NotRun { // a hand-back is no attempt
			p.cfg.Observe(job, o, took)
		}
		if o.Backend != "" {
			span.SetAttributes(attribute.String("proofmill.backend", o.Backend))
		}
		spans.End(span, o.Err)
		p.report(traced, job.ID, o) // even while shutting down: the proof is done
	}
}

func (p *Pool) tracer() trace.Tracer {
	if p.cfg.Tracing == nil {
		return noop.Tracer{}
	}
	return p.cfg.Tracing.Tracer(spans.TracerName)
}

// attempt records the job's wait in line and starts the span of this
// attempt, both under ctx: the trace of the request that made the job
// (which another process may have served). The wait runs from when the
// job went in line to when the scheduler started it; the result's write
// follows the attempt (Scheduler.Finish traces it).
func (p *Pool) attempt(ctx context.Context, job *scheduler.Job) (context.Context, trace.Span) {
	t := p.tracer()
	attrs := trace.WithAttributes(scheduler.JobAttributes(job)...)
	queued := job.Queued
	if queued.IsZero() || queued.After(job.Started) { // stored before jobs kept it; or another clock
		queued = job.Submitted
	}
	_, wait := t.Start(ctx, "job.queue_wait", trace.WithTimestamp(queued), attrs)
	wait.End(trace.WithTimestamp(job.Started))
	return t.Start(ctx, "job.attempt", trace.WithTimestamp(job.Started), trace.WithSpanKind(trace.SpanKindConsumer), attrs)
}

// report records an outcome, retrying for about 15 s while the store is
// unreachable (a Redis restart, say), unless the pool is aborted. If it
// never lands, the job runs again: the scheduler put it back in line.
func (p *Pool) report(ctx context.Context, id string, o scheduler.Outcome) {
	delay := 500 * time.Millisecond
	for try := 1; ; try++ {
		err := p.jobs.Finish(context.WithoutCancel(ctx), id, o)
		if err == nil {
			return
		}
		if try == 5 || ctx.Err() != nil {
			p.log.Error("worker: could not record the outcome; the job will run again", "job", id, "err", err)
			return
		}
		p.log.Warn("worker: recording the outcome failed; retrying", "job", id, "in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay *= 2
	}
}

// witness is the job's admitted witness: decrypted, or for a sealed job
// opened and admitted here (the server could not read it), with the same
// error kinds and rule names as admission at the server.
func (p *Pool) witness(ctx context.Context, c *circuits.Circuit, job *scheduler.Job) ([]byte, error) {
	var input []byte
	switch {
	case job.Sealed != nil:
		if p.cfg.InputKeys == nil {
			return nil, errcode.Errorf(errcode.InputKeyMissing, "the job is sealed to input key %s and this worker holds no input keys (--input-key)", job.Sealed.KeyID)
		}
		plain, err := p.cfg.InputKeys.Open(job.Sealed.KeyID, job.Tenant, c.ID, job.Sealed.Data)
		if err != nil {
			return nil, err
		}
		defer clear(plain)
		input = plain
	case len(job.LegacyInput) > 0: // stored before jobs kept their witness
		input = job.LegacyInput
	default:
		return p.jobs.Witness(ctx, job)
	}
	st, err := c.Admit(input)
	if err != nil {
		if job.Sealed != nil {
			return nil, withheld(err)
		}
		return nil, err
	}
	return st.Witness, nil
}

// withheld is a sealed input's admission error without the values it may
// quote (a date, an amount): the job's record is stored where the
// documents must not be. Its code and the rule or field it names stay.
func withheld(err error) error {
	var rule *input.RuleError
	var field *input.FieldError
	switch {
	case errors.As(err, &rule):
		return errcode.Errorf(errcode.Of(err), "rule %s: the sealed statement does not hold (the details would quote the documents, so the worker withholds them: run `proofmill prove` on the input to see them)", rule.Rule)
	case errors.As(err, &field):
		return errcode.Errorf(errcode.Of(err), "%s: %v (details withheld: they would quote the sealed documents)", field.Field, field.Kind)
	}
	return errcode.Errorf(errcode.Of(err), "the sealed input was refused (%s; details withheld: they would quote the sealed documents)", errcode.Of(err))
}

// run proves one job under ctx; a panic becomes a retryable failure.
// Errors keep their codes: the scheduler decides from them whether to
// retry. Its wait for the circuit's keys ends with taking: a shutdown does
// not wait for a development setup (it cannot be interrupted, and takes
// minutes), and the job goes back in line, its attempt not counted.
func (p *Pool) run(taking, ctx context.Context, job *scheduler.Job) (o scheduler.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("worker: panic while proving", "job", job.ID, "panic", r, "stack", string(debug.Stack()))
			o = scheduler.Outcome{Err: errcode.Errorf(errcode.Internal, "panic while proving: %v", r)}
		}
	}()
	c, err := circuits.Lookup(job.Circuit)
	if err != nil {
		return scheduler.Outcome{Err: err}
	}
	st := p.reportStages(job)
	defer st.stop()
	_, span := p.tracer().Start(ctx, "job.key_load") // at most a cache's lookup after the first
	k, err := p.prover.LoadKeys(prover.WithProgress(taking, st.set), c)
	spans.End(span, err)
	switch {
	case err != nil && taking.Err() != nil:
		p.log.Info("worker: shutting down while the job waited for keys; back in line", "job", job.ID, "circuit", c.ID)
		return scheduler.Outcome{NotRun: true}
	case err != nil:
		return scheduler.Outcome{Err: err}
	}
	if job.VerifyingKey != "" {
		if have := k.VerifyingKeyHash(); have != job.VerifyingKey {
			// Another worker may hold the right keys: the code retries.
			p.log.Error("worker: refusing a job for other keys", "job", job.ID, "circuit", c.ID, "job_vk", job.VerifyingKey, "our_vk", have)
			return scheduler.Outcome{Err: fmt.Errorf("%w: the job needs verifying key %.12s…, this worker has %.12s…", ErrKeyMismatch, job.VerifyingKey, have)}
		}
	}
	wctx, span := p.tracer().Start(ctx, "job.input")
	witness, err := p.witness(wctx, c, job)
	spans.End(span, err)
	if err != nil {
		p.log.Warn("worker: the job's input cannot be used", "job", job.ID, "circuit", job.Circuit, "kind", errcode.Of(err), "err", err)
		return scheduler.Outcome{Err: err}
	}
	defer clear(witness) // the plaintext lives as long as the proof, in memory only
	proof, err := p.prover.ProveWitness(prover.WithProgress(ctx, st.set), c, witness)
	if err != nil && errors.Is(context.Cause(ctx), scheduler.ErrCancelled) {
		// The job ended cancelled already; this outcome is dropped.
		p.log.Info("worker: the job was cancelled while it ran; its attempt stopped", "job", job.ID, "circuit", job.Circuit)
		return scheduler.Outcome{Err: context.Cause(ctx)}
	}
	if err != nil {
		p.log.Warn("worker: attempt failed", "job", job.ID, "circuit", job.Circuit, "kind", errcode.Of(err), "err", err)
		return scheduler.Outcome{Err: err}
	}
	f, err := proof.File()
	if err != nil {
		return scheduler.Outcome{Err: err, Backend: proof.Backend}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return scheduler.Outcome{Err: err, Backend: proof.Backend}
	}
	public := make([]scheduler.PublicInput, len(proof.PublicInputs))
	for i, in := range proof.PublicInputs {
		public[i] = scheduler.PublicInput{Name: in.Name, Value: in.Value}
	}
	p.log.Info("proved", "job", job.ID, "circuit", job.Circuit, "backend", proof.Backend, "took", proof.Took.Round(time.Millisecond))
	return scheduler.Outcome{Result: data, Backend: proof.Backend, PublicInputs: public, VerifyingKey: proof.VerifyingKeyHash}
}
