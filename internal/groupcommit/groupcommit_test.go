package groupcommit_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/proofmill/proofmill/internal/groupcommit"
)

// Writes queued together are one group, each answered with its own error
// in order; a group is never larger than its bound; Stop commits what
// waits, and a write after it is ErrClosed.
func TestGroups(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	odd := errors.New("odd")
	g, release := groupcommit.StartHeld(4, func(ws []int) []error {
		mu.Lock()
		sizes = append(sizes, len(ws))
		mu.Unlock()
		errs := make([]error, len(ws))
		for i, w := range ws {
			if w%2 == 1 {
				errs[i] = fmt.Errorf("%d: %w", w, odd)
			}
		}
		return errs
	})
	const n = 10
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i] = g.Do(i) })
	}
	if !g.AwaitWaiting(4) { // the channel holds a group's worth
		t.Fatalf("%d waiting", g.Waiting())
	}
	release()
	wg.Wait()
	for i, err := range results {
		if (i%2 == 1) != errors.Is(err, odd) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	total := 0
	for _, s := range sizes {
		if s > 4 {
			t.Errorf("a group of %d, bound 4", s)
		}
		total += s
	}
	if total != n || g.Commits() != int64(len(sizes)) || g.Commits() >= n {
		t.Fatalf("groups %v (%d commits) for %d writes", sizes, g.Commits(), n)
	}
	g.Stop()
	g.Stop()
	if err := g.Do(1); !errors.Is(err, groupcommit.ErrClosed) {
		t.Fatalf("after Stop: %v", err)
	}
}
