package embedded

import (
	"context"
	"maps"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/scheduler"
)

// The indexes written with each change are the indexes the records would
// give: checked after every step of jobs' lives, against indexes built
// afresh from the records (in a transaction rolled back).
func TestIndexesFollowTheRecords(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	check := func(step string) {
		t.Helper()
		tx, err := s.db.Begin(true)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		kept := indexContents(tx)
		if err := buildIndexes(tx); err != nil {
			t.Fatal(err)
		}
		if built := indexContents(tx); !maps.Equal(kept, built) {
			t.Fatalf("after %s: indexes %q, the records give %q", step, kept, built)
		}
	}
	jobs := map[string]*scheduler.Job{}
	change := func(id string, edit func(j *scheduler.Job)) {
		t.Helper()
		j := *jobs[id]
		edit(&j)
		j.Version++
		if err := s.Update(ctx, &j); err != nil {
			t.Fatal(err)
		}
		jobs[id] = &j
		check(id + " " + string(j.State))
	}
	for i, id := range []string{"a", "b", "c"} {
		j := &scheduler.Job{ID: id, Tenant: "t" + id, State: scheduler.Queued, Priority: scheduler.Priority(i % 2), Version: 1,
			Submitted: t0.Add(time.Duration(i) * time.Second), Deadline: t0.Add(time.Hour)}
		createAll(t, s, j)
		jobs[id] = j
		check("create " + id)
	}
	change("a", func(j *scheduler.Job) { j.State, j.Started = scheduler.Running, t0.Add(time.Minute) })
	change("a", func(j *scheduler.Job) { j.State, j.Finished = scheduler.Succeeded, t0.Add(2*time.Minute) })
	change("b", func(j *scheduler.Job) { j.State, j.Finished = scheduler.Failed, t0.Add(3*time.Minute) })
	change("b", func(j *scheduler.Job) { // started afresh under its id
		j.State, j.Finished, j.Submitted, j.Tenant = scheduler.Queued, time.Time{}, t0.Add(4*time.Minute), "other"
	})
	change("c", func(j *scheduler.Job) { j.Priority, j.Deadline = scheduler.Interactive, time.Time{} })
	change("c", func(j *scheduler.Job) { j.State, j.Finished = scheduler.Cancelled, t0.Add(5*time.Minute) })
	if n, err := s.DeleteFinished(ctx, t0.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("expired %d, %v; want a and c", n, err)
	}
	check("expiry")

	got, err := s.Unfinished(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("unfinished %v, %v; want b", got, err)
	}
	b := jobs["b"]
	if j := got[0]; j.ID != "b" || j.Tenant != "other" || j.Priority != b.Priority || !j.Submitted.Equal(b.Submitted) || !j.Deadline.Equal(b.Deadline) || j.State != scheduler.Queued {
		t.Fatalf("unfinished %+v, want %+v", j, b)
	}
}

func indexContents(tx *bolt.Tx) map[string]string {
	out := map[string]string{}
	for _, name := range [][]byte{bucketUnfinished, bucketFinished} {
		tx.Bucket(name).ForEach(func(k, v []byte) error {
			out[string(name)+"/"+string(k)] = string(v)
			return nil
		})
	}
	return out
}

// Unfinished lists oldest first, whatever order the ids sort in.
func TestUnfinishedOldestFirst(t *testing.T) {
	s := openTemp(t)
	for i, id := range []string{"z", "m", "a"} {
		createAll(t, s, &scheduler.Job{ID: id, State: scheduler.Queued, Version: 1, Submitted: t0.Add(time.Duration(i) * time.Second)})
	}
	jobs, err := s.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids string
	for _, j := range jobs {
		ids += j.ID
	}
	if ids != "zma" {
		t.Fatalf("unfinished in order %q, want zma", ids)
	}
}
