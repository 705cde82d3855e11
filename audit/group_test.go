package audit

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/proofmill/proofmill/internal/groupcommit"
)

// Appends that arrive together share one fsync, in one chain: 64 queued
// while the writer is held are written by one sync, and the log verifies
// with every line after a reopen.
func TestConcurrentAppendsShareASync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The first append goes alone (the writer takes it at once), then the
	// writer is held while 64 queue.
	if err := l.Append(Record{Event: "submitted", Job: "first"}); err != nil {
		t.Fatal(err)
	}
	// Restart the writer held.
	l.group.Stop()
	var release func()
	l.group, release = groupcommit.StartHeld(maxGroup, l.writeGroup)

	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- l.Append(Record{Event: "submitted", Job: fmt.Sprint("j-", i)}) })
	}
	if !l.group.AwaitWaiting(n) {
		t.Fatalf("%d appends queued of %d", l.group.Waiting(), n)
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := l.group.Commits(); got != 1 {
		t.Fatalf("%d syncs for %d appends, want 1", got, n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Record{Event: "late"}); !errors.Is(err, groupcommit.ErrClosed) {
		t.Fatalf("an append after Close: %v, want errClosed", err)
	}
	if _, lines, err := VerifyFile(path); err != nil || lines != n+1 {
		t.Fatalf("%d lines, %v; want %d that chain", lines, err, n+1)
	}
	l, err = Open(path) // the chain checks on open too
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}
