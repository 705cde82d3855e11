package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proofmill/proofmill/errcode"
)

// lateJobs fails queued jobs at their deadline, instead of when a worker
// gets to them: one timer per queued job with a deadline that this process
// admitted or recovered.
type lateJobs struct {
	mu      sync.Mutex
	timers  map[string]*time.Timer
	stopped bool
	running sync.WaitGroup // timer callbacks in flight
}

// failAtDeadline arms j's deadline timer, if it has a deadline.
func (s *Scheduler) failAtDeadline(j *Job) {
	if j.Deadline.IsZero() {
		return
	}
	l := &s.late
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.timers[j.ID] != nil {
		return
	}
	if l.timers == nil {
		l.timers = map[string]*time.Timer{}
	}
	id, deadline := j.ID, j.Deadline
	l.timers[id] = time.AfterFunc(deadline.Sub(s.cfg.Now()), func() {
		l.mu.Lock()
		delete(l.timers, id)
		if l.stopped {
			l.mu.Unlock()
			return
		}
		l.running.Add(1)
		l.mu.Unlock()
		defer l.running.Done()
		s.failLate(id, deadline)
	})
}

// failLate fails a job still queued at its deadline and takes it out of
// line; a job that started, or ended, is left alone.
func (s *Scheduler) failLate(id string, deadline time.Time) {
	ctx := context.Background()
	failed := false
	j, err := s.change(ctx, id, func(j *Job) (bool, error) {
		failed = false
		if j.State != Queued || !j.Deadline.Equal(deadline) {
			return false, nil
		}
		s.finish(j, Failed, errcode.DeadlineExceeded, fmt.Sprintf("deadline %s passed while the job waited in line", deadline.Format(time.RFC3339)))
		failed = true
		return true, nil
	})
	switch {
	case err != nil:
		s.log.Warn("scheduler: failing a job past its deadline; a worker will", "job", id, "err", err)
	case failed:
		s.forecast.forget(id)
		if err := s.remove(ctx, j); err != nil {
			s.log.Warn("scheduler: a job past its deadline stays in line; a worker skips it", "job", id, "err", err)
		}
	}
}

// Close stops the deadline timers and waits for any that fired. Call it
// before closing the store.
func (s *Scheduler) Close() {
	l := &s.late
	l.mu.Lock()
	l.stopped = true
	for id, t := range l.timers {
		t.Stop()
		delete(l.timers, id)
	}
	l.mu.Unlock()
	l.running.Wait()
}
