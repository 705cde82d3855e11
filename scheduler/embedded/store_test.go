package embedded

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/scheduler"
)

// The counts by state, of waiting jobs and of each tenant's unfinished
// ones, are right after a reopen too (they are rebuilt from the file).
func TestStoreCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, st := range []scheduler.State{scheduler.Queued, scheduler.Queued, scheduler.Succeeded} {
		j := &scheduler.Job{ID: string(rune('a' + i)), Tenant: "bank-a", State: st, Witness: []byte{1}, Priority: scheduler.Priority(i % 2)}
		if _, _, err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store, when string) {
		t.Helper()
		counts, err := s.Counts(ctx)
		if err != nil || counts[scheduler.Queued] != 2 || counts[scheduler.Succeeded] != 1 {
			t.Fatalf("%s: counts %v, %v", when, counts, err)
		}
		if w, _ := s.CountQueued(ctx); w[scheduler.Interactive] != 1 || w[scheduler.Batch] != 1 {
			t.Fatalf("%s: queued %v", when, w)
		}
		if n, _ := s.CountUnfinished(ctx, "bank-a"); n != 2 {
			t.Fatalf("%s: bank-a has %d unfinished", when, n)
		}
	}
	check(s, "written")
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "reopened")
}
