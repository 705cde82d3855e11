package scheduler_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

// countingStore counts reads of jobs; gate, when set, holds each read
// until it is closed or the read's context ends.
type countingStore struct {
	scheduler.Store
	gets atomic.Int64
	gate chan struct{}
}

func (s *countingStore) Get(ctx context.Context, id string) (*scheduler.Job, error) {
	s.gets.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.Get(ctx, id)
}

func countingScheduler(t *testing.T) (*scheduler.Scheduler, *countingStore) {
	t.Helper()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cs := &countingStore{Store: store}
	return scheduler.New(cs, embedded.NewQueue(embedded.QueueConfig{}), scheduler.Config{}), cs
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in 10 s", what)
		}
	}
}

// A hundred watchers of one job cost one journal read per change, not one
// each, and hold no copy of its witness (a large job's witness is what made
// each unread WatchJob stream cost about a megabyte).
func TestWatchersShareOneReadPerChange(t *testing.T) {
	s, store := countingScheduler(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	const watchers = 100
	var wg sync.WaitGroup
	var withWitness atomic.Int64
	seen := make(chan *scheduler.Job, watchers)
	for range watchers {
		wg.Go(func() {
			var version uint64
			for {
				w, err := s.WaitChange(ctx, j.ID, version)
				if err != nil {
					t.Error(err)
					return
				}
				if w.Witness != nil {
					withWitness.Add(1)
				}
				if w.State.Terminal() {
					seen <- w
					return
				}
				version = w.Version
			}
		})
	}
	waitFor(t, "watchers", func() bool { return s.Watching(j.ID) == watchers })
	before := store.gets.Load()
	run, err := s.Next(ctx) // running: a change
	if err != nil || run.ID != j.ID {
		t.Fatalf("next: %v %v", run, err)
	}
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Result: []byte(`{"proof":1}`)}); err != nil { // succeeded: another
		t.Fatal(err)
	}
	wg.Wait()
	close(seen)
	n := 0
	for w := range seen {
		if n++; w.State != scheduler.Succeeded || string(w.Result) != `{"proof":1}` {
			t.Fatalf("a watcher saw %+v", w)
		}
	}
	if n != watchers {
		t.Fatalf("%d of %d watchers saw the end", n, watchers)
	}
	if n := withWitness.Load(); n > 0 {
		t.Errorf("%d watched copies hold the job's witness", n)
	}
	// Next and Finish read the job once each; the watchers, at most twice
	// per change (once more if every watcher was between calls at once).
	if reads := store.gets.Load() - before; reads > 2+2*2 {
		t.Fatalf("%d watchers made %d journal reads for 2 changes", watchers, reads)
	}
	if n := s.Watches(); n != 0 {
		t.Fatalf("%d watches left behind", n)
	}
}

// The watcher whose read the others share gives up (its client left):
// the others read again instead of failing with its context's error.
func TestWatcherLeavingMidReadFailsNoOther(t *testing.T) {
	s, store := countingScheduler(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	store.gate = make(chan struct{})
	before := store.gets.Load()
	first, leave := context.WithCancel(ctx)
	firstDone := make(chan error, 1)
	go func() { _, err := s.WaitChange(first, j.ID, 0); firstDone <- err }()
	waitFor(t, "the first read", func() bool { return store.gets.Load() == before+1 })
	other := make(chan error, 1)
	go func() {
		w, err := s.WaitChange(ctx, j.ID, 0)
		if err == nil && w.ID != j.ID {
			err = errors.New("another job")
		}
		other <- err
	}()
	waitFor(t, "the second watcher", func() bool { return s.Watching(j.ID) == 2 })
	leave()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the watcher that left: %v", err)
	}
	close(store.gate)
	if err := <-other; err != nil {
		t.Fatalf("the other watcher failed with the first one's error: %v", err)
	}
}

// With Poll, watchers see a change another process made without a notice
// reaching this one; they share the polled reads too.
func TestWatchersPollForOtherWriters(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	queue := embedded.NewQueue(embedded.QueueConfig{})
	watched := scheduler.New(store, queue, scheduler.Config{Poll: 20 * time.Millisecond})
	other := scheduler.New(store, queue, scheduler.Config{}) // its notices reach only its own watchers
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, _, err := other.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if w, err := watched.WaitChange(ctx, j.ID, j.Version); err != nil || w.State != scheduler.Cancelled {
				t.Errorf("watcher: %+v %v", w, err)
			}
		})
	}
	waitFor(t, "watchers", func() bool { return watched.Watching(j.ID) == 20 })
	if _, err := other.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}
