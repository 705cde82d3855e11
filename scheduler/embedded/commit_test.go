package embedded

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/proofmill/proofmill/internal/groupcommit"
	"github.com/proofmill/proofmill/scheduler"
)

// heldCommitter replaces s's group commit with one that takes no write
// until the returned func is called, so a test decides what shares a
// commit.
func heldCommitter(s *Store) (release func()) {
	s.commit.Stop()
	s.commit, release = groupcommit.StartHeld(maxGroup, commitGroups(s.db, s.path))
	return release
}

// waitQueued waits, bounded, until n writes wait for a commit.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	if !s.commit.AwaitWaiting(n) {
		t.Fatalf("%d writes queued, want %d", s.commit.Waiting(), n)
	}
}

// Concurrent submissions share one commit: 64 creates queued together go
// to disk in one transaction, and each is in the journal after a reopen.
func TestConcurrentCreatesShareACommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	release := heldCommitter(s)
	const n = 64
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, created, err := s.Create(ctx, &scheduler.Job{ID: fmt.Sprintf("job-%02d", i), State: scheduler.Queued, Witness: []byte{byte(i)}})
			if err == nil && !created {
				err = errors.New("not created")
			}
			errs <- err
		})
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.commit.Commits(); got != 1 {
		t.Fatalf("%d commits for %d writes, want 1", got, n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs, err := s.Unfinished(ctx)
	if err != nil || len(jobs) != n {
		t.Fatalf("after reopening: %d jobs, %v; want %d", len(jobs), err, n)
	}
}

// One write's failure in a shared commit is its own: a stale update beside
// a good one fails, and the good one lands; a create of an id already in
// the same commit finds the first.
func TestSharedCommitKeepsFailuresApart(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	createAll(t, s, &scheduler.Job{ID: "a", State: scheduler.Queued, Version: 1}, &scheduler.Job{ID: "b", State: scheduler.Queued, Version: 1})
	release := heldCommitter(s)
	good, stale, dup := make(chan error, 1), make(chan error, 1), make(chan bool, 1)
	go func() { good <- s.Update(ctx, &scheduler.Job{ID: "a", State: scheduler.Running, Version: 2}) }()
	go func() { stale <- s.Update(ctx, &scheduler.Job{ID: "b", State: scheduler.Running, Version: 5}) }()
	go func() {
		s.Create(ctx, &scheduler.Job{ID: "c", State: scheduler.Queued, Version: 1})
	}()
	waitQueued(t, s, 3)
	go func() {
		_, created, _ := s.Create(ctx, &scheduler.Job{ID: "c", State: scheduler.Queued, Version: 1})
		dup <- created
	}()
	waitQueued(t, s, 4)
	release()
	if err := <-good; err != nil {
		t.Fatalf("the good update: %v", err)
	}
	if err := <-stale; !errors.Is(err, scheduler.ErrConflict) {
		t.Fatalf("the stale update: %v, want ErrConflict", err)
	}
	if <-dup {
		t.Fatal("a second create of c in the same commit created it again")
	}
	if got := s.commit.Commits(); got != 1 {
		t.Fatalf("%d commits, want 1", got)
	}
	for id, want := range map[string]scheduler.State{"a": scheduler.Running, "b": scheduler.Queued} {
		if j, err := s.Get(ctx, id); err != nil || j.State != want {
			t.Fatalf("%s: %v, %v; want %v", id, j, err, want)
		}
	}
}

// A write after Close fails; Close commits what was queued first.
func TestCloseCommitsQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	release := heldCommitter(s)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Create(ctx, &scheduler.Job{ID: "queued", State: scheduler.Queued})
		done <- err
	}()
	waitQueued(t, s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-done; err != nil {
		t.Fatalf("the queued create: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(ctx, &scheduler.Job{ID: "late", State: scheduler.Queued}); !errors.Is(err, errClosed) {
		t.Fatalf("a create after Close: %v, want errClosed", err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "queued"); err != nil {
		t.Fatal(err)
	}
}
