package worker

import (
	"context"
	"sync"
	"time"

	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

// stagesDrain bounds how long an attempt's end waits for its last stages
// to be recorded (Redis away, say): they are progress, not state.
const stagesDrain = 2 * time.Second

// stages sends a running job's stage changes to the scheduler, in order,
// from a goroutine of its own, so that the write (a journal fsync, a Redis
// round trip) never holds up the proof. A watcher may still see only the
// latest of several.
type stages struct {
	mu      sync.Mutex
	pending []scheduler.Stage
	wake    chan struct{} // one buffered: something is pending
	closing chan struct{} // closed by stop: send what is pending, then end
	cancel  context.CancelFunc
	done    chan struct{}
}

// reportStages starts sending job's stages; stop ends it.
func (p *Pool) reportStages(job *scheduler.Job) *stages {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stages{wake: make(chan struct{}, 1), closing: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			closing := false
			select {
			case <-s.wake:
			case <-s.closing:
				closing = true
			}
			s.mu.Lock()
			sends := s.pending
			s.pending = nil
			s.mu.Unlock()
			for _, st := range sends {
				// Progress, not state: one lost is no harm.
				if err := p.jobs.Progress(ctx, job.ID, job.Attempts, st); err != nil && ctx.Err() == nil {
					p.log.Debug("worker: stage not recorded", "job", job.ID, "stage", st, "err", err)
				}
			}
			if closing || ctx.Err() != nil {
				return
			}
		}
	}()
	return s
}

// set queues a stage to send; it never blocks.
func (s *stages) set(st prover.Stage) {
	s.mu.Lock()
	s.pending = append(s.pending, scheduler.Stage(st))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// stop sends what is queued, for at most stagesDrain, and waits for the
// goroutine; the attempt's outcome, reported next, clears the stage.
func (s *stages) stop() {
	close(s.closing)
	t := time.NewTimer(stagesDrain)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
	s.cancel()
	<-s.done
}
