package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

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

// bbolt's consistency check alone, as Open runs it, on 10^4 jobs:
// go test ./scheduler/embedded -run '^$' -bench TxCheck10k -benchtime 20x
func BenchmarkTxCheck10k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "jobs.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 10_000 {
		j := &scheduler.Job{ID: fmt.Sprintf("job-%05d", i), Tenant: "bank-a", State: scheduler.Queued, Witness: make([]byte, 1500)}
		if _, _, err := s.Create(context.Background(), j); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		s.db.View(func(tx *bolt.Tx) error {
			if p := consistency(tx); len(p) > 0 {
				b.Fatal(p)
			}
			return nil
		})
	}
}
