package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/scheduler"
)

// finishCounting ends job with version v+1, adding u.
func finishCounting(t testing.TB, s *Store, j *scheduler.Job, u scheduler.Usage) {
	t.Helper()
	j.Version++
	j.State = scheduler.Succeeded
	if err := s.UpdateCounting(context.Background(), j, u); err != nil {
		t.Fatal(err)
	}
}

// A day's first tally deletes the days past UsageRetention; a write that
// fails its version check adds nothing; a damaged tally is an error, not
// a smaller bill.
func TestUsageRetentionAndConflicts(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	old := &scheduler.Job{ID: "old", Tenant: "bank-a", State: scheduler.Running, Version: 1}
	late := &scheduler.Job{ID: "late", Tenant: "bank-a", State: scheduler.Running, Version: 1}
	createAll(t, s, old, late)
	day0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	finishCounting(t, s, old, scheduler.Usage{Tenant: "bank-a", Day: scheduler.Day(day0), Circuit: "c", Backend: "cpu", Proofs: 1})

	stale := &scheduler.Job{ID: "late", Tenant: "bank-a", State: scheduler.Succeeded, Version: 3} // stored is 1: not 2
	if err := s.UpdateCounting(ctx, stale, scheduler.Usage{Tenant: "bank-a", Day: scheduler.Day(day0), Circuit: "c", Backend: "cpu", Proofs: 5}); err == nil {
		t.Fatal("a stale write was taken")
	}
	if us, err := s.Usage(ctx, scheduler.UsageQuery{All: true}); err != nil || len(us) != 1 || us[0].Proofs != 1 {
		t.Fatalf("after a refused write: %+v %v", us, err)
	}

	later := day0.Add(scheduler.UsageRetention + 24*time.Hour) // day0 is now past retention
	finishCounting(t, s, late, scheduler.Usage{Tenant: "bank-a", Day: scheduler.Day(later), Circuit: "c", Backend: "cpu", Proofs: 1, ProofMillis: 10})
	us, err := s.Usage(ctx, scheduler.UsageQuery{All: true})
	if err != nil || len(us) != 1 || us[0].Day != scheduler.Day(later) {
		t.Fatalf("after retention: %+v %v", us, err)
	}

	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsage)
		k, v := b.Cursor().First()
		v = append([]byte(nil), v...)
		v[len(v)-2] ^= 1
		return b.Put(k, v)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Usage(ctx, scheduler.UsageQuery{All: true}); err == nil {
		t.Fatal("a damaged tally was read")
	}
}

// What tallying usage adds to a job's last write (a bbolt commit with
// fsync): go test ./scheduler/embedded -run '^$' -bench UpdateCounting
func BenchmarkUpdateCounting(b *testing.B) {
	for _, counting := range []bool{false, true} {
		b.Run(fmt.Sprintf("counting=%v", counting), func(b *testing.B) {
			s, err := Open(b.TempDir() + "/jobs.db")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			j := &scheduler.Job{ID: "j", Tenant: "bank-a", Circuit: "c", State: scheduler.Running, Version: 1, Result: make([]byte, 3000)}
			if _, _, err := s.Create(context.Background(), j); err != nil {
				b.Fatal(err)
			}
			u := scheduler.Usage{Tenant: "bank-a", Day: "2026-11-01", Circuit: "c", Backend: "cpu", Proofs: 1, ProofMillis: 1500, Constraints: 7578, StoredBytes: 3000}
			for b.Loop() {
				j.Version++
				if counting {
					err = s.UpdateCounting(context.Background(), j, u)
				} else {
					err = s.Update(context.Background(), j)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
