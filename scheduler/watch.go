package scheduler

import (
	"context"
	"errors"
	"time"
)

// watch is one job's watchers. Its read is the job as read after the last
// change, shared by every watcher: a change costs one store read however
// many watch. ch is closed at the next change (Notify), which replaces both.
// n counts the callers waiting, so the last one out removes the watch.
type watch struct {
	ch   chan struct{}
	read *read
	n    int
}

// read is one store read shared by a job's watchers; done is closed once
// job or err is set.
type read struct {
	done  chan struct{}
	start time.Time
	job   *Job // without its witness: no watcher needs it
	err   error
}

// Notify wakes the watchers of a job; call it for changes that other
// processes make.
func (s *Scheduler) Notify(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.changed[id]; ok {
		close(w.ch)
		w.ch, w.read = make(chan struct{}), nil
	}
}

// WaitChange returns the job once its version is past version (at once if it
// already is), or when ctx ends. Its watchers share one read per change:
// the job returned is a copy without its input, whose
// Result and PublicInputs are shared and must not be modified.
func (s *Scheduler) WaitChange(ctx context.Context, id string, version uint64) (*Job, error) {
	w := s.watch(id)
	defer s.unwatch(id, w)
	var (
		stale bool // a poll ended the last wait: read again if the shared read is a poll old
		err   error
	)
	for {
		s.mu.Lock()
		changed, r, mine := w.ch, w.read, false
		if r == nil || stale && time.Since(r.start) >= s.cfg.Poll {
			r, mine = &read{done: make(chan struct{}), start: time.Now()}, true
			w.read = r
		}
		s.mu.Unlock()
		if mine {
			r.job, r.err = s.readWatched(ctx, id)
			close(r.done)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		switch {
		case r.err != nil && !mine && ctx.Err() == nil && isContextError(r.err):
			// The watcher that read for everyone left mid-read: read again.
			s.forget(w, r)
			continue
		case r.err != nil:
			return nil, r.err
		case r.job.Version > version:
			return r.job.clone(), nil
		}
		if stale, err = s.waitNotice(ctx, changed); err != nil {
			return r.job.clone(), err
		}
	}
}

// waitNotice waits for a change notice, or with Poll set at most that
// long (polled says so), or for ctx to end.
func (s *Scheduler) waitNotice(ctx context.Context, changed <-chan struct{}) (polled bool, err error) {
	var poll <-chan time.Time
	if s.cfg.Poll > 0 {
		t := time.NewTimer(s.cfg.Poll)
		defer t.Stop()
		poll = t.C
	}
	select {
	case <-changed:
		return false, nil
	case <-poll:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// readWatched reads a job for its watchers, dropping what they never need.
func (s *Scheduler) readWatched(ctx context.Context, id string) (*Job, error) {
	j, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	j.DropInput()
	return j, nil
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// watch registers a caller waiting on a job's changes.
func (s *Scheduler) watch(id string) *watch {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.changed[id]
	if !ok {
		w = &watch{ch: make(chan struct{})}
		s.changed[id] = w
	}
	w.n++
	return w
}

func (s *Scheduler) unwatch(id string, w *watch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.n--; w.n == 0 && s.changed[id] == w {
		delete(s.changed, id)
	}
}

// forget drops a failed shared read, unless a newer one replaced it.
func (s *Scheduler) forget(w *watch, r *read) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.read == r {
		w.read = nil
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
