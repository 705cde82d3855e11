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

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

// Jobs is the scheduler side of the pool.
type Jobs interface {
	Next(ctx context.Context) (*scheduler.Job, error)
	Finish(ctx context.Context, id string, o scheduler.Outcome) error
}

// Prover proves one JSON input; *prover.Prover is one.
type Prover interface {
	Prove(ctx context.Context, c *circuits.Circuit, data []byte) (*prover.Proof, error)
	Keys(c *circuits.Circuit) (*prover.Keys, error)
}

// Config sizes a Pool. The zero value is usable.
type Config struct {
	// Slots is how many jobs run at once; 0 runs none, and a negative
	// value means DefaultSlots. gnark
	// spreads one proof over every core, but two proofs overlap each
	// other's serial phases (1.27× raw throughput measured on 2 cores).
	Slots  int
	Logger *slog.Logger // nil means slog.Default()
	// Observe, when set, is called after every attempt (for metrics).
	Observe func(job *scheduler.Job, o scheduler.Outcome, took time.Duration)
}

// Pool runs jobs on a fixed number of slots.
type Pool struct {
	jobs   Jobs
	prover Prover
	cfg    Config
	log    *slog.Logger

	stop context.CancelFunc
	wg   sync.WaitGroup
	busy atomic.Int64
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

// Start starts the slots.
func (p *Pool) Start() {
	ctx, stop := context.WithCancel(context.Background())
	p.stop = stop
	for range p.cfg.Slots {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.loop(ctx)
		}()
	}
}

// Shutdown stops taking jobs and waits for running ones to finish, or for
// ctx to end. A proof cannot be interrupted: a job still running when ctx
// ends stays "running" in the store, and the next start runs it again.
func (p *Pool) Shutdown(ctx context.Context) error {
	if p.stop == nil {
		return nil // never started
	}
	p.stop()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker: shutdown: %d jobs still running: %w", p.Busy(), ctx.Err())
	}
}

func (p *Pool) loop(ctx context.Context) {
	for {
		job, err := p.jobs.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("worker: next job", "err", err)
				time.Sleep(time.Second) // the store is failing; do not spin
				continue
			}
			return
		}
		p.busy.Add(1)
		start := time.Now()
		o := p.run(job)
		o.Attempt = job.Attempts
		took := time.Since(start)
		p.busy.Add(-1)
		if p.cfg.Observe != nil {
			p.cfg.Observe(job, o, took)
		}
		p.report(context.WithoutCancel(ctx), job.ID, o) // even while shutting down: the proof is done
	}
}

// report records an outcome, retrying for about 15 s while the store is
// unreachable (a Redis restart, say). If it never lands, the job runs
// again: the scheduler put it back in line.
func (p *Pool) report(ctx context.Context, id string, o scheduler.Outcome) {
	delay := 500 * time.Millisecond
	for try := 1; ; try++ {
		err := p.jobs.Finish(ctx, id, o)
		if err == nil {
			return
		}
		if try == 5 {
			p.log.Error("worker: could not record the outcome; the job will run again", "job", id, "err", err)
			return
		}
		p.log.Warn("worker: recording the outcome failed; retrying", "job", id, "in", delay, "err", err)
		time.Sleep(delay)
		delay *= 2
	}
}

// run proves one job; a panic becomes a retryable failure.
func (p *Pool) run(job *scheduler.Job) (o scheduler.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("worker: panic while proving", "job", job.ID, "panic", r, "stack", string(debug.Stack()))
			o = scheduler.Outcome{Err: fmt.Errorf("panic while proving: %v", r), Retryable: true}
		}
	}()
	c, err := circuits.Lookup(job.Circuit)
	if err != nil {
		return classify(err)
	}
	if job.VerifyingKey != "" {
		k, err := p.prover.Keys(c)
		if err != nil {
			return classify(err)
		}
		if have := k.VerifyingKeyHash(); have != job.VerifyingKey {
			// Another worker may hold the right keys: retryable.
			p.log.Error("worker: refusing a job for other keys", "job", job.ID, "circuit", c.ID, "job_vk", job.VerifyingKey, "our_vk", have)
			return scheduler.Outcome{Err: fmt.Errorf("%w: the job needs verifying key %.12s…, this worker has %.12s…", ErrKeyMismatch, job.VerifyingKey, have),
				Retryable: true, ErrorKind: KindKeyMismatch}
		}
	}
	proof, err := p.prover.Prove(context.Background(), c, job.Input)
	if err != nil {
		o = classify(err)
		p.log.Warn("worker: attempt failed", "job", job.ID, "circuit", job.Circuit, "retryable", o.Retryable, "err", err)
		return o
	}
	f, err := proof.File()
	if err != nil {
		return scheduler.Outcome{Err: err, Retryable: true, Backend: proof.Backend}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return scheduler.Outcome{Err: err, Retryable: true, Backend: proof.Backend}
	}
	p.log.Info("proved", "job", job.ID, "circuit", job.Circuit, "backend", proof.Backend, "took", proof.Took.Round(time.Millisecond))
	return scheduler.Outcome{Result: data, Backend: proof.Backend}
}

// Error kinds, besides scheduler.KindUnsatisfied.
const (
	KindInvalidInput = "invalid_input"
	KindKeyMismatch  = "key_mismatch" // the worker's keys are not the ones the job was accepted for
)

// ErrKeyMismatch: the worker's verifying key differs from the job's.
var ErrKeyMismatch = errors.New("verifying key mismatch")

// classify decides whether another attempt could succeed. Bad inputs and
// false statements never will; everything else (a proof that failed
// verification, missing keys being made, I/O) may.
func classify(err error) scheduler.Outcome {
	switch {
	case errors.Is(err, input.ErrUnsatisfied):
		return scheduler.Outcome{Err: err, ErrorKind: scheduler.KindUnsatisfied}
	case errors.Is(err, input.ErrMalformed), errors.Is(err, input.ErrUnknownField), errors.Is(err, input.ErrMissingField),
		errors.Is(err, input.ErrInvalidValue), errors.Is(err, input.ErrOutOfRange), errors.Is(err, input.ErrTooLarge),
		errors.Is(err, circuits.ErrUnknownCircuit):
		return scheduler.Outcome{Err: err, ErrorKind: KindInvalidInput}
	}
	return scheduler.Outcome{Err: err, Retryable: true}
}
