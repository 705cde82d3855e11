// Package conformance is one test suite for every scheduler.Store and
// scheduler.Queue pair: the embedded one and the Redis one run the same
// cases, so the scheduler behaves the same over either.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/scheduler"
)

// Backend is a Store and Queue under test.
type Backend struct {
	Store scheduler.Store
	Queue scheduler.Queue
	// Admitter, if set, is the pair's one-step admission: every
	// scheduler of the cases uses it.
	Admitter scheduler.Admitter
	// ExactPriority: the queue serves priorities exactly as
	// scheduler.NextPriority says; otherwise in proportion, at random.
	ExactPriority bool
	// Pause and Resume stop and restart the queue's consumers, so that
	// lengths can be read before any worker takes a job ahead of Pop. Nil
	// for a queue that takes nothing ahead of Pop.
	Pause, Resume func() error
	// Restart stops this backend as a crashed process would leave it and
	// opens another over the same data.
	Restart func(t *testing.T) Backend
}

// Open returns a fresh, empty backend for one case; it stops it with
// t.Cleanup.
type Open func(t *testing.T) Backend

// Run runs every case against backends that open makes.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		run  func(t *testing.T, b Backend)
	}{
		{"StoreCreateGetUpdate", storeCreateGetUpdate},
		{"StoreOneWriterWins", storeOneWriterWins},
		{"StoreUnfinished", storeUnfinished},
		{"StoreCountsQueued", storeCountsQueued},
		{"QueuePushPopRemove", queuePushPopRemove},
		{"QueueHeldIDsAreAbsorbed", queueHeldIDs},
		{"QueuePriorityShare", queuePriorityShare},
		{"SubmitProveFinish", submitProveFinish},
		{"ConcurrentDuplicateSubmissions", concurrentDuplicates},
		{"RetryAndStaleReports", retryAndStaleReports},
		{"RedeliveredRunningJob", redeliveredRunningJob},
		{"Cancel", cancel},
		{"RecoverAfterCrash", recoverAfterCrash},
		{"TenantsApart", tenantsApart},
		{"AuditEvents", auditEvents},
		{"UsageTallies", usageTallies},
		{"DailyQuota", dailyQuota},
		{"TraceContextTravels", traceTravels},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

const circuit = "invoice-consistency/v1"

// Input returns a valid invoice-consistency input; each n is a distinct
// statement (another invoice number).
func Input(t testing.TB, n int) []byte { return []byte(testinput.Invoice(t, n)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func job(id string, st scheduler.State, submitted time.Time) *scheduler.Job {
	return &scheduler.Job{ID: id, Circuit: circuit, Witness: []byte{1, 2, 3}, State: st, Submitted: submitted, Version: 1}
}

func storeCreateGetUpdate(t *testing.T, b Backend) {
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	j := job("a", scheduler.Queued, now)
	if got, created, err := b.Store.Create(ctx, j); err != nil || !created || got.ID != "a" {
		t.Fatalf("create: %v %v %v", got, created, err)
	}
	again := job("a", scheduler.Failed, now)
	if got, created, err := b.Store.Create(ctx, again); err != nil || created || got.State != scheduler.Queued {
		t.Fatalf("second create replaced the job: %+v %v %v", got, created, err)
	}
	if _, err := b.Store.Get(ctx, "nope"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	j.State, j.Version, j.Attempts = scheduler.Running, 2, 1
	if err := b.Store.Update(ctx, j); err != nil {
		t.Fatal(err)
	}
	stale := job("a", scheduler.Cancelled, now) // written from version 1 again
	stale.Version = 2
	if err := b.Store.Update(ctx, stale); !errors.Is(err, scheduler.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	got, err := b.Store.Get(ctx, "a")
	if err != nil || got.State != scheduler.Running || got.Version != 2 || got.Attempts != 1 || !got.Submitted.Equal(now) {
		t.Fatalf("get: %+v %v", got, err)
	}
	missing := job("gone", scheduler.Running, now)
	missing.Version = 2
	if err := b.Store.Update(ctx, missing); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
}

// Many writers update the same version: exactly one lands.
func storeOneWriterWins(t *testing.T, b Backend) {
	ctx := ctxT(t)
	if _, _, err := b.Store.Create(ctx, job("a", scheduler.Queued, time.Now())); err != nil {
		t.Fatal(err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := job("a", scheduler.Running, time.Now())
			j.Version, j.Attempts = 2, i+1
			switch err := b.Store.Update(ctx, j); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, scheduler.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 15 {
		t.Fatalf("%d writers won, %d conflicted; want 1 and 15", wins.Load(), conflicts.Load())
	}
}

func storeUnfinished(t *testing.T, b Backend) {
	ctx := ctxT(t)
	t0 := time.Now().UTC()
	for i, st := range []scheduler.State{scheduler.Running, scheduler.Succeeded, scheduler.Queued, scheduler.Cancelled} {
		j := job(fmt.Sprint("j", i), st, t0.Add(-time.Duration(i)*time.Second))
		j.Priority = scheduler.Batch
		if _, _, err := b.Store.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// j0 finishes through Update; j2 stays.
	done := job("j0", scheduler.Succeeded, t0)
	done.Version = 2
	if err := b.Store.Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	jobs, err := b.Store.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if strings.Join(ids, ",") != "j2" || jobs[0].State != scheduler.Queued || jobs[0].Priority != scheduler.Batch {
		t.Fatalf("unfinished %v (%+v), want [j2], queued at batch priority", ids, jobs)
	}
}

func mustPush(t *testing.T, q scheduler.Queue, id string, p scheduler.Priority) {
	t.Helper()
	if err := q.Push(context.Background(), id, scheduler.Class{Priority: p}); err != nil {
		t.Fatal(err)
	}
}

func lens(t *testing.T, q scheduler.Queue) [2]int {
	t.Helper()
	var n [2]int
	for p := range n {
		l, err := q.Len(context.Background(), scheduler.Priority(p))
		if err != nil {
			t.Fatal(err)
		}
		n[p] = l
	}
	return n
}

func pop(t *testing.T, q scheduler.Queue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("pop: %v", err)
	}
	return id
}

func popNothing(t *testing.T, q scheduler.Queue, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if id, err := q.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("pop on an empty queue: %q %v", id, err)
	}
}

func pause(t *testing.T, b Backend) {
	t.Helper()
	if b.Pause != nil {
		if err := b.Pause(); err != nil {
			t.Fatal(err)
		}
	}
}

func resume(t *testing.T, b Backend) {
	t.Helper()
	if b.Resume != nil {
		if err := b.Resume(); err != nil {
			t.Fatal(err)
		}
	}
}

func queuePushPopRemove(t *testing.T, b Backend) {
	q := b.Queue
	pause(t, b)
	mustPush(t, q, "a", scheduler.Batch)
	mustPush(t, q, "a", scheduler.Batch) // absorbed
	mustPush(t, q, "c", scheduler.Batch)
	if err := q.Remove(context.Background(), "c", scheduler.Class{Priority: scheduler.Batch}); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(context.Background(), "never", scheduler.Class{Priority: scheduler.Batch}); err != nil {
		t.Fatalf("removing an absent id: %v", err)
	}
	mustPush(t, q, "b", scheduler.Interactive)
	if n := lens(t, q); n != [2]int{1, 1} {
		t.Fatalf("lengths %v, want [1 1]", n)
	}
	resume(t, b)
	got := map[string]bool{pop(t, q): true, pop(t, q): true}
	if !got["a"] || !got["b"] {
		t.Fatalf("popped %v, want a and b", got)
	}
	for id := range got {
		q.Release(context.Background(), id, scheduler.Class{Priority: scheduler.Batch}, false)
	}
	popNothing(t, q, 300*time.Millisecond)
	// A blocked Pop wakes on Push.
	woke := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id, _ := q.Pop(ctx)
		woke <- id
	}()
	time.Sleep(20 * time.Millisecond)
	mustPush(t, q, "d", scheduler.Interactive)
	if id := <-woke; id != "d" {
		t.Fatalf("woke with %q", id)
	}
}

// An ID held by a worker is not queued twice; released "again", it is back.
func queueHeldIDs(t *testing.T, b Backend) {
	q := b.Queue
	ctx := context.Background()
	mustPush(t, q, "x", scheduler.Interactive)
	if id := pop(t, q); id != "x" {
		t.Fatalf("popped %q", id)
	}
	mustPush(t, q, "x", scheduler.Interactive) // held: absorbed
	if n := lens(t, q); n != [2]int{} {
		t.Fatalf("a held id was queued again: %v", n)
	}
	if err := q.Release(ctx, "x", scheduler.Class{}, true); err != nil {
		t.Fatal(err)
	}
	if id := pop(t, q); id != "x" {
		t.Fatalf("popped %q after a release for another attempt", id)
	}
	if err := q.Release(ctx, "x", scheduler.Class{}, false); err != nil {
		t.Fatal(err)
	}
	popNothing(t, q, 300*time.Millisecond)
}

// With both priorities waiting, interactive jobs get about four starts in
// five, and batch jobs are not starved.
func queuePriorityShare(t *testing.T, b Backend) {
	q := b.Queue
	const n = 50
	for i := range n {
		mustPush(t, q, fmt.Sprintf("i%02d", i), scheduler.Interactive)
		mustPush(t, q, fmt.Sprintf("b%02d", i), scheduler.Batch)
	}
	interactive := 0
	for range n {
		id := pop(t, q)
		if id[0] == 'i' {
			interactive++
		}
		q.Release(context.Background(), id, scheduler.Class{}, false)
	}
	lo, hi := 30, 48 // a 4:1 draw: 40 ± 3.5σ
	if b.ExactPriority {
		lo, hi = n*scheduler.InteractiveShare/(scheduler.InteractiveShare+1), n*scheduler.InteractiveShare/(scheduler.InteractiveShare+1)
	}
	if interactive < lo || interactive > hi {
		t.Fatalf("%d of the first %d starts were interactive, want %d..%d", interactive, n, lo, hi)
	}
}

func newScheduler(b Backend, cfg scheduler.Config) *scheduler.Scheduler {
	cfg.Admitter = b.Admitter
	return scheduler.New(b.Store, b.Queue, cfg)
}

func next(t *testing.T, s *scheduler.Scheduler) *scheduler.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return j
}

func submitProveFinish(t *testing.T, b Backend) {
	ctx := ctxT(t)
	s := newScheduler(b, scheduler.Config{})
	j, created, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 1)})
	if err != nil || !created || j.State != scheduler.Queued {
		t.Fatalf("submit: %+v %v %v", j, created, err)
	}
	done := make(chan *scheduler.Job, 1)
	go func() {
		w, err := s.Wait(ctx, j.ID)
		if err != nil {
			t.Error(err)
		}
		done <- w
	}()
	run := next(t, s)
	if run.ID != j.ID || run.State != scheduler.Running || run.Attempts != 1 {
		t.Fatalf("next: %+v", run)
	}
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 1, Result: []byte(`{"proof":1}`), Backend: "cpu"}); err != nil {
		t.Fatal(err)
	}
	w := <-done
	if w == nil || w.State != scheduler.Succeeded || string(w.Result) != `{"proof":1}` || w.Backend != "cpu" {
		t.Fatalf("waited for %+v", w)
	}
	popNothing(t, b.Queue, 300*time.Millisecond)
}

// The same request from many clients at once, through two schedulers (as
// two server processes would), makes one job that runs once.
func concurrentDuplicates(t *testing.T, b Backend) {
	ctx := ctxT(t)
	pause(t, b)
	s1, s2 := newScheduler(b, scheduler.Config{}), newScheduler(b, scheduler.Config{})
	var created atomic.Int32
	ids := make(chan string, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := s1
			if i%2 == 1 {
				s = s2
			}
			j, c, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 7)})
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created.Add(1)
			}
			ids <- j.ID
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first != "" && id != first {
			t.Fatalf("two job ids: %s and %s", first, id)
		}
		first = id
	}
	if created.Load() != 1 {
		t.Fatalf("%d submissions created a job, want 1", created.Load())
	}
	if n := lens(t, b.Queue); n != [2]int{1, 0} {
		t.Fatalf("queue lengths %v, want one task", n)
	}
	resume(t, b)
	if j := next(t, s1); j.ID != first {
		t.Fatalf("ran %s", j.ID)
	}
	popNothing(t, b.Queue, 300*time.Millisecond)
}

func retryAndStaleReports(t *testing.T, b Backend) {
	ctx := ctxT(t)
	s := newScheduler(b, scheduler.Config{MaxAttempts: 2})
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 2), Priority: scheduler.Batch})
	if err != nil {
		t.Fatal(err)
	}
	next(t, s)
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 1, Err: errors.New("device lost")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, j.ID); got.State != scheduler.Queued || got.Error != "device lost" {
		t.Fatalf("after a retryable failure: %+v", got)
	}
	if run := next(t, s); run.ID != j.ID || run.Attempts != 2 {
		t.Fatalf("retry: %+v", run)
	}
	// A late report from attempt 1 changes nothing.
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 1, Err: errcode.Errorf(errcode.Unsatisfied, "late")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, j.ID); got.State != scheduler.Running {
		t.Fatalf("a stale report changed the job: %+v", got)
	}
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 2, Err: errors.New("device lost")}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, j.ID)
	if got.State != scheduler.Failed || got.ErrorKind != string(errcode.AttemptsExceeded) {
		t.Fatalf("after MaxAttempts: %+v", got)
	}
	popNothing(t, b.Queue, 300*time.Millisecond)
}

// A worker that dies mid-proof reports nothing; its queue hands the job out
// again (a lapsed lease, or Recover), and the next worker runs it as
// another attempt. The dead worker's result, should it arrive, is ignored.
func redeliveredRunningJob(t *testing.T, b Backend) {
	ctx := ctxT(t)
	s := newScheduler(b, scheduler.Config{})
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	next(t, s)
	if err := b.Queue.Release(ctx, j.ID, j.Class(), true); err != nil { // the hold is lost
		t.Fatal(err)
	}
	run := next(t, s)
	if run.ID != j.ID || run.Attempts != 2 || run.State != scheduler.Running {
		t.Fatalf("redelivered: %+v", run)
	}
	s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 1, Result: []byte(`{"from":"dead worker"}`)})
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 2, Result: []byte(`{"from":"live worker"}`)}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, j.ID)
	if got.State != scheduler.Succeeded || string(got.Result) != `{"from":"live worker"}` {
		t.Fatalf("result: %s %s", got.State, got.Result)
	}
}

func cancel(t *testing.T, b Backend) {
	ctx := ctxT(t)
	pause(t, b)
	s := newScheduler(b, scheduler.Config{})
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 4), Priority: scheduler.Batch})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Cancel(ctx, j.ID)
	if err != nil || c.State != scheduler.Cancelled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if n := lens(t, b.Queue); n != [2]int{} {
		t.Fatalf("a cancelled job is still in line: %v", n)
	}
	resume(t, b)
	popNothing(t, b.Queue, 300*time.Millisecond)
	// Resubmitted, it runs afresh.
	again, created, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 4), Priority: scheduler.Batch})
	if err != nil || !created || again.ID != j.ID {
		t.Fatalf("resubmit: %+v %v %v", again, created, err)
	}
	run := next(t, s)
	if run.ID != j.ID || run.Attempts != 1 {
		t.Fatalf("resubmitted job: %+v", run)
	}
	// Cancelled while it runs, it ends at once; the proof its attempt
	// reports later is dropped, and its hold is released, not put back.
	c, err = s.Cancel(ctx, run.ID)
	if err != nil || c.State != scheduler.Cancelled || c.ErrorKind != string(errcode.Cancelled) {
		t.Fatalf("cancel a running job: %+v %v", c, err)
	}
	if err := s.Finish(ctx, run.ID, scheduler.Outcome{Attempt: run.Attempts, Result: []byte(`{"proof":1}`), Backend: "cpu"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, run.ID); err != nil || got.State != scheduler.Cancelled || got.Result != nil {
		t.Fatalf("a cancelled running job after its late proof: %+v %v", got, err)
	}
	popNothing(t, b.Queue, 300*time.Millisecond)
}

// Accepted jobs survive a crash: queued ones run, and the one that was
// running runs again as attempt 2.
func recoverAfterCrash(t *testing.T, b Backend) {
	ctx := ctxT(t)
	s := newScheduler(b, scheduler.Config{})
	var ids []string
	for i := range 3 {
		j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 10+i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	running := next(t, s)
	b2 := b.Restart(t)
	s2 := newScheduler(b2, scheduler.Config{})
	if n, err := s2.Recover(ctx); err != nil || n != 3 {
		t.Fatalf("recovered %d, %v; want 3", n, err)
	}
	seen := map[string]int{}
	for range 3 {
		j := next(t, s2)
		seen[j.ID] = j.Attempts
	}
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			t.Fatalf("job %s lost in the crash", id)
		}
	}
	if seen[running.ID] != 2 {
		t.Fatalf("the interrupted job is on attempt %d, want 2", seen[running.ID])
	}
	popNothing(t, b2.Queue, 300*time.Millisecond)
}

// Tenants submitting the same statement get jobs of their own; each
// tenant's unfinished jobs are counted, and its quota holds.
func tenantsApart(t *testing.T, b Backend) {
	ctx := ctxT(t)
	pause(t, b)
	s := newScheduler(b, scheduler.Config{})
	submit := func(tenant string, n, quota int) (*scheduler.Job, error) {
		j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, n), Tenant: tenant, TenantMaxQueued: quota})
		return j, err
	}
	a, err := submit("bank-a", 40, 2)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := submit("bank-b", 40, 2)
	if err != nil {
		t.Fatal(err)
	}
	none, err := submit("", 40, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b2.ID || a.ID == none.ID || a.Tenant != "bank-a" || b2.Tenant != "bank-b" {
		t.Fatalf("tenants share a job: %s/%s %s/%s %s", a.ID, a.Tenant, b2.ID, b2.Tenant, none.ID)
	}
	if again, err := submit("bank-a", 40, 2); err != nil || again.ID != a.ID {
		t.Fatalf("resubmission by the same tenant: %+v %v", again, err)
	}
	if _, err := submit("bank-a", 41, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := submit("bank-a", 42, 2); !errors.Is(err, scheduler.ErrTenantQuota) {
		t.Fatalf("third unfinished job of a tenant with quota 2: %v", err)
	}
	if _, err := submit("bank-b", 42, 2); err != nil {
		t.Fatalf("one tenant's quota stopped another: %v", err)
	}
	count := func(tenant string) int {
		n, err := b.Store.CountUnfinished(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := [3]int{count("bank-a"), count("bank-b"), count("")}; got != [3]int{2, 2, 1} {
		t.Fatalf("unfinished per tenant %v, want [2 2 1]", got)
	}
	if _, err := s.Cancel(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n := count("bank-a"); n != 1 {
		t.Fatalf("bank-a has %d unfinished after a cancel, want 1", n)
	}
	if _, err := submit("bank-a", 42, 2); err != nil {
		t.Fatalf("a finished job still counts against the quota: %v", err)
	}
}

// The store counts waiting jobs by priority as their states change.
func storeCountsQueued(t *testing.T, b Backend) {
	ctx := ctxT(t)
	now := time.Now().UTC()
	for _, j := range []*scheduler.Job{job("i1", scheduler.Queued, now), job("i2", scheduler.Queued, now), job("b1", scheduler.Queued, now), job("done", scheduler.Succeeded, now)} {
		if strings.HasPrefix(j.ID, "b") {
			j.Priority = scheduler.Batch
		}
		if _, _, err := b.Store.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	count := func() [2]int {
		t.Helper()
		w, err := b.Store.CountQueued(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return [2]int{w[scheduler.Interactive], w[scheduler.Batch]}
	}
	if got := count(); got != [2]int{2, 1} {
		t.Fatalf("queued %v, want [2 1]", got)
	}
	running := job("i1", scheduler.Running, now)
	running.Version = 2
	if err := b.Store.Update(ctx, running); err != nil {
		t.Fatal(err)
	}
	back := job("i1", scheduler.Queued, now) // handed back for another attempt, now at batch priority
	back.Version, back.Priority = 3, scheduler.Batch
	if err := b.Store.Update(ctx, back); err != nil {
		t.Fatal(err)
	}
	finished := job("b1", scheduler.Cancelled, now)
	finished.Version, finished.Priority = 2, scheduler.Batch
	if err := b.Store.Update(ctx, finished); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != [2]int{1, 1} {
		t.Fatalf("queued %v after changes, want [1 1]", got)
	}
}

// auditLog records events; fail makes it refuse them.
type auditLog struct {
	mu     sync.Mutex
	events []string
	fail   bool
}

func (a *auditLog) Record(_ context.Context, ev scheduler.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("disk full")
	}
	if len(ev.Job.Witness) > 0 || len(ev.Job.Result) > 0 {
		return errors.New("an event carries the witness or the proof")
	}
	a.events = append(a.events, ev.Kind+" "+ev.Job.ID[:4])
	return nil
}

func (a *auditLog) take() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := strings.Join(a.events, ", ")
	a.events = nil
	return out
}

// Every change of a job's life is recorded; a submission that cannot be
// recorded is refused and leaves no job behind.
func auditEvents(t *testing.T, b Backend) {
	ctx := ctxT(t)
	log := &auditLog{}
	s := newScheduler(b, scheduler.Config{Audit: log})
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 50)})
	if err != nil {
		t.Fatal(err)
	}
	id := j.ID[:4]
	if got := log.take(); got != "submitted "+id {
		t.Fatalf("after submit: %q", got)
	}
	if _, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 50)}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); got != "" {
		t.Fatalf("a duplicate submission was recorded: %q", got)
	}
	next(t, s)
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 1, Result: []byte(`{}`), Backend: "cpu"}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); got != "started "+id+", succeeded "+id {
		t.Fatalf("after a run: %q", got)
	}
	pause(t, b)
	c, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 51)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); got != "submitted "+c.ID[:4]+", cancelled "+c.ID[:4] {
		t.Fatalf("after a cancel: %q", got)
	}
	log.fail = true
	_, _, err = s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 52)})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a submission the audit log refused: %v", err)
	}
	if w, err := b.Store.CountQueued(ctx); err != nil || w[scheduler.Interactive] != 0 {
		t.Fatalf("the refused job was stored: %v %v", w, err)
	}
	resume(t, b)
}
