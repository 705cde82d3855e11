package embedded

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/scheduler"
)

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// job returns a job in state st, ended at end if st is terminal.
func testJob(id string, st scheduler.State, end time.Time) *scheduler.Job {
	j := &scheduler.Job{ID: id, State: st, Version: 1, Submitted: t0, Witness: []byte("w")}
	if st.Terminal() {
		j.Finished = end
	}
	return j
}

// Expiry deletes the jobs that ended before the cutoff, in transactions of
// expireBatch, and nothing else: not a queued job, not one ended later, and
// not one that ended and was started afresh. The counts follow.
func TestExpiryWalksTheEndedJobs(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	const old = 2*expireBatch + 7 // three transactions
	for i := range old {
		createAll(t, s, testJob(fmt.Sprint("old-", i), scheduler.Succeeded, t0.Add(time.Duration(i)*time.Second)))
	}
	createAll(t, s, testJob("queued", scheduler.Queued, time.Time{}), testJob("recent", scheduler.Failed, t0.Add(48*time.Hour)),
		testJob("restarted", scheduler.Cancelled, t0))
	again := testJob("restarted", scheduler.Queued, time.Time{})
	again.Version = 2
	if err := s.Update(ctx, again); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteFinished(ctx, t0.Add(24*time.Hour))
	if err != nil || n != old {
		t.Fatalf("expired %d, %v; want %d", n, err, old)
	}
	for _, id := range []string{"queued", "recent", "restarted"} {
		if _, err := s.Get(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	want := map[scheduler.State]int{scheduler.Queued: 2, scheduler.Failed: 1}
	if got, _ := s.Counts(ctx); !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	if got := recount(t, s); !maps.Equal(got, want) {
		t.Fatalf("the file holds %v, want %v", got, want)
	}
	if n, err := s.DeleteFinished(ctx, t0.Add(24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("a second expiry: %d, %v", n, err)
	}
}

// recount counts the stored jobs by state, reading every record.
func recount(t *testing.T, s *Store) map[scheduler.State]int {
	t.Helper()
	got := map[scheduler.State]int{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var m meta
			if _, err := decode(k, v, &m); err != nil {
				t.Errorf("%s: %v", k, err)
			}
			got[m.State]++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A journal made before the indexes (none, or only an index of ended jobs
// without their states) is indexed when it opens: its old jobs expire, its
// counts and its unfinished jobs are right.
func TestOldJournalIsIndexed(t *testing.T) {
	for name, age := range map[string]func(tx *bolt.Tx) error{
		"no index": func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketFinished); err != nil {
				return err
			}
			return tx.DeleteBucket(bucketUnfinished)
		},
		"ended jobs only, no states": func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketFinished)
			if err := b.Put(finishedKey(t0, "ended"), nil); err != nil {
				return err
			}
			return tx.DeleteBucket(bucketUnfinished)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jobs.db")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			createAll(t, s, testJob("ended", scheduler.Succeeded, t0), testJob("waiting", scheduler.Queued, time.Time{}))
			if err := s.db.Update(age); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if s, err = Open(path); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want := map[scheduler.State]int{scheduler.Queued: 1, scheduler.Succeeded: 1}
			if got, _ := s.Counts(ctx); !maps.Equal(got, want) {
				t.Fatalf("counts %v, want %v", got, want)
			}
			if jobs, err := s.Unfinished(ctx); err != nil || len(jobs) != 1 || jobs[0].ID != "waiting" {
				t.Fatalf("unfinished %v, %v; want the waiting job", jobs, err)
			}
			if n, err := s.DeleteFinished(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
				t.Fatalf("expired %d, %v; want the ended job", n, err)
			}
			if _, err := s.Get(ctx, "waiting"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
