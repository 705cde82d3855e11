package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

var ctx = context.Background()

// fill makes a journal at path with n jobs (every other one succeeded, with
// a proof and public inputs), and closes it.
func fill(t *testing.T, path string, n int) {
	t.Helper()
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if _, _, err := s.Create(ctx, testJob(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func testJob(i int) *scheduler.Job {
	j := &scheduler.Job{ID: fmt.Sprintf("job-%04d", i), Tenant: "bank-a", Circuit: "invoice-consistency/v1",
		Witness: bytes.Repeat([]byte{byte(i)}, 1500), State: scheduler.Queued, Submitted: time.Unix(1_700_000_000+int64(i), 0)}
	if i%2 == 1 {
		j.State, j.Finished, j.Result = scheduler.Succeeded, j.Submitted.Add(time.Second), []byte(`{"proof":"…"}`)
		j.PublicInputs = []scheduler.PublicInput{{Name: "total", Value: fmt.Sprintf("%d0000004217", 1000+i)}}
	}
	return j
}

// edit replaces, in the file at path, every copy of old with new (the
// same length), as a disk or an editor might; it fails if old is absent.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("edit %q → %q changes the length", old, new)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%q is not in %s", old, path)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(data, []byte(old), []byte(new)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, what string, err error, code errcode.Code, mention ...string) {
	t.Helper()
	if errcode.Of(err) != code {
		t.Fatalf("%s: %v (code %q), want code %q", what, err, errcode.Of(err), code)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("%s: %q does not mention %q", what, err, m)
		}
	}
}

// One digit of a stored public input changed on disk, the record's length
// the same: reading the job is DATA_LOSS naming it, never the changed job.
func TestChangedRecordIsNotServed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	fill(t, path, 4)
	edit(t, path, "10030000004217", "10030000004218") // job-0003's public input
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	j, err := s.Get(ctx, "job-0003")
	wantCode(t, "get the changed job", err, errcode.CorruptRecord, "job-0003")
	if j != nil {
		t.Fatalf("served %+v", j)
	}
	if _, err := s.Get(ctx, "job-0001"); err != nil {
		t.Fatalf("an intact job: %v", err)
	}
}

// One undecodable record: the store opens, lists, counts and expires the
// others, and names the bad one on every read of it.
func TestOneBadRecordLeavesTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	fill(t, path, 6)
	// job-0002 (queued) loses its JSON shape: the same length, but an
	// object that ends early.
	edit(t, path, `"id":"job-0002",`, `"id":"job-0002"}`)
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatalf("one bad record made the store unusable: %v", err)
	}
	defer s.Close()
	_, err = s.Get(ctx, "job-0002")
	wantCode(t, "get", err, errcode.CorruptRecord, "job-0002")
	jobs, err := s.Unfinished(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("unfinished: %d jobs, %v; want job-0000 and job-0004", len(jobs), err)
	}
	if counts, err := s.Counts(ctx); err != nil || counts[scheduler.Queued] != 2 || counts[scheduler.Succeeded] != 3 {
		t.Fatalf("counts %v, %v", counts, err)
	}
	if n, err := s.DeleteFinished(ctx, time.Now()); err != nil || n != 3 {
		t.Fatalf("expired %d, %v; want the 3 succeeded jobs", n, err)
	}
	_, _, err = s.Create(ctx, &scheduler.Job{ID: "job-0002", State: scheduler.Queued})
	wantCode(t, "create over it", err, errcode.CorruptRecord, "job-0002")
	err = s.Update(ctx, &scheduler.Job{ID: "job-0002", State: scheduler.Running, Version: 1})
	wantCode(t, "update it", err, errcode.CorruptRecord, "job-0002")
}

// A journal that existed, emptied, cut short or overwritten: Open refuses
// with DATA_LOSS and says how to restore and how to start afresh; it
// never panics and never starts empty.
func TestDamagedJournalIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string) error
	}{
		{"emptied", func(path string) error { return os.Truncate(path, 0) }},
		{"cut to half", func(path string) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			return os.Truncate(path, st.Size()/2)
		}},
		{"cut to 16 KiB", func(path string) error { return os.Truncate(path, 16<<10) }},
		{"overwritten", func(path string) error {
			return os.WriteFile(path, bytes.Repeat([]byte("not a journal "), 10_000), 0o600)
		}},
		{"removed", os.Remove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jobs.db")
			fill(t, path, 400)
			if err := tc.damage(path); err != nil {
				t.Fatal(err)
			}
			s, err := tryOpen(t, path)
			if err == nil {
				jobs, _ := s.Unfinished(ctx)
				s.Close()
				t.Fatalf("opened, with %d unfinished jobs of 200", len(jobs))
			}
			t.Log(err)
			wantCode(t, "open", err, errcode.CorruptRecord, path, "restore", "start afresh")
		})
	}
}

// tryOpen opens a store, turning a panic into a test failure that says so.
func tryOpen(t *testing.T, path string) (s *embedded.Store, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("open panicked: %v", r)
		}
	}()
	return embedded.Open(path)
}

// The documented way to start afresh: move jobs.db and its marker aside.
func TestStartAfreshOnPurpose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jobs.db")
	fill(t, path, 2)
	os.Truncate(path, 0)
	if _, err := embedded.Open(path); err == nil {
		t.Fatal("an emptied journal opened")
	}
	for _, name := range []string{"jobs.db", "jobs.db.marker"} {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".old")); err != nil {
			t.Fatal(err)
		}
	}
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatalf("after moving the journal aside: %v", err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "jobs.db.marker")); err != nil {
		t.Fatalf("the fresh journal has no marker: %v", err)
	}
}

// A journal written before envelopes and markers (bare JSON records, no
// marker) still opens and reads; it gets a marker, and a rewritten job is
// sealed.
func TestJournalFromBeforeChecksums(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jobs.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("jobs"))
		if err != nil {
			return err
		}
		return b.Put([]byte("old"), []byte(`{"id":"old","tenant":"bank-a","state":"queued","version":1}`))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	j, err := s.Get(ctx, "old")
	if err != nil || j.State != scheduler.Queued {
		t.Fatalf("old record: %+v, %v", j, err)
	}
	if n, _ := s.CountUnfinished(ctx, "bank-a"); n != 1 {
		t.Fatalf("bank-a has %d unfinished", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs.db.marker")); err != nil {
		t.Fatalf("no marker after the first open: %v", err)
	}
	r, err := s.Check(ctx)
	if err != nil || r.Unchecked != 1 || r.Checked != 0 {
		t.Fatalf("check: %+v, %v", r, err)
	}
	j.State, j.Version = scheduler.Running, j.Version+1
	if err := s.Update(ctx, j); err != nil {
		t.Fatal(err)
	}
	if r, err = s.Check(ctx); err != nil || r.Unchecked != 0 || r.Checked != 1 {
		t.Fatalf("check after a rewrite: %+v, %v", r, err)
	}
}

// Any one page zeroed: the damage is found, at open (refused) or by Check
// (the records on it), and nothing panics.
func TestZeroedPageIsFound(t *testing.T) {
	for _, page := range []int64{2, 3, 10, 40, 100, 200} {
		t.Run(fmt.Sprint("page ", page), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jobs.db")
			fill(t, path, 400)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteAt(make([]byte, 4096), page*4096)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			s, err := tryOpen(t, path)
			if err != nil {
				wantCode(t, "open", err, errcode.CorruptRecord, "restore")
				return
			}
			defer s.Close()
			r, err := s.Check(ctx)
			if err != nil {
				wantCode(t, "check", err, errcode.CorruptRecord)
				return
			}
			if r.Err() == nil {
				t.Logf("page %d held nothing live: %+v", page, r)
			} else {
				t.Logf("found: %d damaged records, structure %v", len(r.Damaged), r.Structure)
			}
		})
	}
}

// editInPlace changes bytes of an open journal's file without truncating
// it, as a failing disk would under a running server.
func editInPlace(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte(old))
	if at < 0 {
		t.Fatalf("%q is not in %s", old, path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(new), int64(at)); err != nil {
		t.Fatal(err)
	}
}

// A queued job whose record is damaged under a running server fails the
// worker once, then leaves the line: it is not handed out and put back
// forever.
func TestDamagedQueuedJobLeavesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := embedded.NewQueue(embedded.QueueConfig{Drop: s.Damaged})
	sched := scheduler.New(s, q, scheduler.Config{})
	j := testJob(0)
	if _, _, err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	q.Push(ctx, j.ID, j.Class())
	editInPlace(t, path, `"tenant":"bank-a"`, `"tenant":"bank-b"`)
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	_, err = sched.Next(short())
	wantCode(t, "first take", err, errcode.CorruptRecord, j.ID)
	if _, err = sched.Next(short()); errcode.Of(err) != errcode.DeadlineExceeded {
		t.Fatalf("second take: %v, want nothing to take", err)
	}
	if n, _ := q.Len(ctx, scheduler.Interactive); n != 0 {
		t.Fatalf("%d still in line", n)
	}
}
