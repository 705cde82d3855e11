package scheduler_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

const circuit = "invoice-consistency/v1"

var example = func() string {
	data, err := examples.Read("invoice-consistency.json")
	if err != nil {
		panic(err)
	}
	return string(data)
}()

// invoiceNo returns the example with another invoice number: a distinct,
// valid statement.
func invoiceNo(t *testing.T, n int) []byte { return []byte(testinput.Invoice(t, n)) }

type clock = conformance.Clock

type harness struct {
	*scheduler.Scheduler
	store *embedded.Store
	clock *clock
	path  string
}

func newHarness(t *testing.T, cfg scheduler.Config) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.db")
	return openHarness(t, path, cfg, conformance.NewClock(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)))
}

func openHarness(t *testing.T, path string, cfg scheduler.Config, c *clock) *harness {
	t.Helper()
	store, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.Now = c.Now
	s := scheduler.New(store, embedded.NewQueue(embedded.QueueConfig{}), cfg)
	t.Cleanup(s.Close) // before the store closes: stops the deadline timers
	if _, err := s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &harness{Scheduler: s, store: store, clock: c, path: path}
}

func (h *harness) submit(t *testing.T, req scheduler.Request) *scheduler.Job {
	t.Helper()
	if req.Circuit == "" {
		req.Circuit = circuit
	}
	j, _, err := h.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (h *harness) next(t *testing.T) *scheduler.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j, err := h.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestIdempotentSubmission(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	first, created, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: []byte(example)})
	if err != nil || !created || first.State != scheduler.Queued {
		t.Fatalf("first submit: %+v, %v, %v", first, created, err)
	}
	// The same statement, written differently, is the same job.
	reformatted := strings.ReplaceAll(testinput.Example(t, "invoice-consistency.json").Set("invoice.quantity", "1200").JSON(), "\n", " ")
	again, created, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: []byte(reformatted), Priority: scheduler.Batch})
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("resubmit: id %s created %v err %v; want id %s", again.ID, created, err, first.ID)
	}
	// A client key names the job it was first used for: the same
	// statement gets it back; another statement or circuit is refused,
	// never answered with the first job.
	keyed := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1), IdempotencyKey: "bank-a/loan-77"})
	same, created, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1), IdempotencyKey: "bank-a/loan-77"})
	if err != nil || created || same.ID != keyed.ID {
		t.Fatalf("same key, same statement: %v %v %v; want job %s", same, created, err, keyed.ID)
	}
	for name, req := range map[string]scheduler.Request{
		"another statement": {Circuit: circuit, Input: invoiceNo(t, 2), IdempotencyKey: "bank-a/loan-77"},
		"another circuit":   {Circuit: "abs-pool-16/v1", Input: []byte(testinput.Pool(t, 1)), IdempotencyKey: "bank-a/loan-77"},
	} {
		other, _, err := h.Submit(ctx, req)
		if !errors.Is(err, scheduler.ErrKeyReused) || errcode.Of(err) != errcode.KeyReused || other != nil {
			t.Fatalf("%s under a used key: %v, %v; want ErrKeyReused", name, other, err)
		}
		if !strings.Contains(err.Error(), `"bank-a/loan-77"`) {
			t.Fatalf("%s: the error does not name the key: %v", name, err)
		}
	}
	if n, _ := h.Waiting(ctx); n[scheduler.Interactive]+n[scheduler.Batch] != 2 {
		t.Fatalf("waiting %v, want 2 jobs", n)
	}
}

func TestAdmissionErrors(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	cases := []struct {
		name string
		req  scheduler.Request
		kind error
	}{
		{"unknown circuit", scheduler.Request{Circuit: "nope/v1", Input: []byte(example)}, circuits.ErrUnknownCircuit},
		{"malformed", scheduler.Request{Circuit: circuit, Input: []byte(`{`)}, input.ErrMalformed},
		{"unsatisfied", scheduler.Request{Circuit: circuit, Input: []byte(testinput.Example(t, "invoice-consistency.json").Set("customs_declaration.currency", 978).JSON())}, input.ErrUnsatisfied},
		{"past deadline", scheduler.Request{Circuit: circuit, Input: []byte(example), Deadline: h.clock.Now()}, scheduler.ErrPastDeadline},
		{"bad key", scheduler.Request{Circuit: circuit, Input: []byte(example), IdempotencyKey: "has space"}, scheduler.ErrInvalidKey},
		{"bad priority", scheduler.Request{Circuit: circuit, Input: []byte(example), Priority: 7}, scheduler.ErrBadPriority},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := h.Submit(context.Background(), c.req); !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
		})
	}
	if n, _ := h.Waiting(context.Background()); n[scheduler.Interactive]+n[scheduler.Batch] != 0 {
		t.Fatalf("rejected requests were queued: %v", n)
	}
}

// The bound is per priority: a full batch line refuses batch jobs only.
func TestQueueFull(t *testing.T) {
	h := newHarness(t, scheduler.Config{MaxQueued: 2})
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 2)})
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 10), Priority: scheduler.Batch})
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 11), Priority: scheduler.Batch})
	if _, _, err := h.Submit(context.Background(), scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 12), Priority: scheduler.Batch}); !errors.Is(err, scheduler.ErrQueueFull) {
		t.Fatalf("batch: got %v, want ErrQueueFull", err)
	}
	if _, _, err := h.Submit(context.Background(), scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 3)}); !errors.Is(err, scheduler.ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	// A resubmission of a queued job is not refused: it adds nothing.
	if _, _, err := h.Submit(context.Background(), scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)}); err != nil {
		t.Fatalf("resubmit while full: %v", err)
	}
	h.next(t)
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 3)}) // room again
}

// Many submitters at once never pass the bound: the check and the write
// are one step (16 submitters, 40 distinct jobs, bound 10).
func TestQueueBoundHoldsUnderConcurrency(t *testing.T) {
	h := newHarness(t, scheduler.Config{MaxQueued: 10})
	inputs := make([][]byte, 40)
	for i := range inputs {
		inputs[i] = invoiceNo(t, i)
	}
	var wg sync.WaitGroup
	next := make(chan []byte, len(inputs))
	for _, in := range inputs {
		next <- in
	}
	close(next)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range next {
				_, _, err := h.Submit(context.Background(), scheduler.Request{Circuit: circuit, Input: in})
				if err != nil && !errors.Is(err, scheduler.ErrQueueFull) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := h.Waiting(context.Background()); n[scheduler.Interactive] != 10 {
		t.Fatalf("%d jobs waiting; the bound is 10", n[scheduler.Interactive])
	}
}

// A job whose deadline passes while it waits fails at its deadline, not
// when a worker gets to it (here no worker ever asks).
func TestDeadlineFailsAQueuedJobPromptly(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := scheduler.New(store, embedded.NewQueue(embedded.QueueConfig{}), scheduler.Config{})
	t.Cleanup(func() { s.Close(); store.Close() })
	j, _, err := s.Submit(context.Background(), scheduler.Request{Circuit: circuit, Input: []byte(example), Deadline: time.Now().Add(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := s.Wait(ctx, j.ID)
	if err != nil || done.State != scheduler.Failed || done.ErrorKind != string(errcode.DeadlineExceeded) || !strings.Contains(done.Error, "waited in line") {
		t.Fatalf("job past its deadline: %+v %v", done, err)
	}
	if n, _ := s.Waiting(context.Background()); n[scheduler.Interactive] != 0 {
		t.Fatalf("still waiting: %v", n)
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	a := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	b := h.submit(t, scheduler.Request{Input: invoiceNo(t, 2)})
	got, err := h.Cancel(ctx, a.ID)
	if err != nil || got.State != scheduler.Cancelled {
		t.Fatalf("cancel queued: %+v %v", got, err)
	}
	if j := h.next(t); j.ID != b.ID {
		t.Fatalf("next after cancel: %s, want %s", j.ID, b.ID)
	}
	if got, err := h.Cancel(ctx, b.ID); err != nil || got.State != scheduler.Cancelled || got.ErrorKind != string(errcode.Cancelled) {
		t.Fatalf("cancel running: %+v %v", got, err)
	}
	if _, err := h.Cancel(ctx, "nope"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	c := h.submit(t, scheduler.Request{Input: invoiceNo(t, 3)})
	h.next(t)
	if err := h.Finish(ctx, c.ID, scheduler.Outcome{Result: []byte(`{"proof":1}`), Backend: "cpu"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Cancel(ctx, c.ID); !errors.Is(err, scheduler.ErrNotQueued) {
		t.Fatalf("cancel succeeded: %v, want ErrNotQueued", err)
	}
}

// A running job's cancel ends its attempt's context with ErrCancelled, and
// the proof that attempt reports afterwards is never released.
func TestCancelRunning(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	j := h.next(t)
	actx, done := h.Attempt(ctx, j)
	defer done()
	if _, err := h.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-actx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the attempt's context did not end")
	}
	if !errors.Is(context.Cause(actx), scheduler.ErrCancelled) || errcode.Of(context.Cause(actx)) != errcode.Cancelled {
		t.Fatalf("cause %v, want ErrCancelled", context.Cause(actx))
	}
	// The proof arrives late: dropped.
	if err := h.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte(`{"proof":1}`), Backend: "cpu", VerifyingKey: "vk"}); err != nil {
		t.Fatal(err)
	}
	got, _ := h.Get(ctx, j.ID)
	if got.State != scheduler.Cancelled || got.ErrorKind != string(errcode.Cancelled) || got.Result != nil || got.Receipt != nil {
		t.Fatalf("after a late proof: %s %s result %q", got.State, got.ErrorKind, got.Result)
	}
	if n, _ := h.Waiting(ctx); n[scheduler.Interactive] != 0 {
		t.Fatalf("the cancelled job is back in line: %v", n)
	}
}

// Cancel and a finished proof race: the job ends one way only. Either the
// proof landed first (succeeded, and the cancel is refused), or the cancel
// did (cancelled, with no result).
func TestCancelRacesFinish(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	seen := map[scheduler.State]int{}
	for i := range 40 {
		h.submit(t, scheduler.Request{Input: invoiceNo(t, 100+i)})
		j := h.next(t)
		var wg sync.WaitGroup
		var cancelErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, cancelErr = h.Cancel(ctx, j.ID)
		}()
		go func() {
			defer wg.Done()
			h.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte(`{"proof":1}`), Backend: "cpu"})
		}()
		wg.Wait()
		got, _ := h.Get(ctx, j.ID)
		seen[got.State]++
		switch {
		case got.State == scheduler.Succeeded && errors.Is(cancelErr, scheduler.ErrNotQueued) && got.Result != nil:
		case got.State == scheduler.Cancelled && cancelErr == nil && got.Result == nil:
		default:
			t.Fatalf("run %d: %s (result %q), cancel: %v", i, got.State, got.Result, cancelErr)
		}
	}
	t.Logf("outcomes: %v", seen)
}

func TestDeadlinePassedWhileQueued(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	late := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1), Deadline: h.clock.Now().Add(time.Minute)})
	onTime := h.submit(t, scheduler.Request{Input: invoiceNo(t, 2)})
	h.clock.Add(2 * time.Minute)
	if j := h.next(t); j.ID != onTime.ID {
		t.Fatalf("ran %s, want the job without a deadline", j.ID)
	}
	j, _ := h.Get(context.Background(), late.ID)
	if j.State != scheduler.Failed || j.ErrorKind != string(errcode.DeadlineExceeded) || !strings.Contains(j.Error, "deadline") {
		t.Fatalf("late job: %s %s %q", j.State, j.ErrorKind, j.Error)
	}
}

// A batch backlog never delays interactive jobs by more than one batch job
// in InteractiveShare+1, and batch jobs still run.
func TestPriorities(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	var order []scheduler.Priority
	for i := range 10 {
		h.submit(t, scheduler.Request{Input: invoiceNo(t, 100+i), Priority: scheduler.Batch})
	}
	for i := range 10 {
		h.submit(t, scheduler.Request{Input: invoiceNo(t, 200+i), Priority: scheduler.Interactive})
	}
	for range 20 {
		order = append(order, h.next(t).Priority)
	}
	want := "IIIIBIIIIBIIBBBBBBBB"
	var got strings.Builder
	for _, p := range order {
		got.WriteByte(strings.ToUpper(p.String())[0])
	}
	if got.String() != want {
		t.Fatalf("start order %s, want %s", got.String(), want)
	}
}

func TestFinishAndRetries(t *testing.T) {
	h := newHarness(t, scheduler.Config{MaxAttempts: 2})
	ctx := context.Background()
	boom := errors.New("device lost")

	ok := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	h.next(t)
	if err := h.Finish(ctx, ok.ID, scheduler.Outcome{Result: []byte(`{"proof":1}`), Backend: "cpu"}); err != nil {
		t.Fatal(err)
	}
	// A second report for the same job changes nothing.
	if err := h.Finish(ctx, ok.ID, scheduler.Outcome{Err: boom}); err != nil {
		t.Fatal(err)
	}
	if j, _ := h.Get(ctx, ok.ID); j.State != scheduler.Succeeded || string(j.Result) != `{"proof":1}` || j.Backend != "cpu" {
		t.Fatalf("succeeded job: %+v", j)
	}

	flaky := h.submit(t, scheduler.Request{Input: invoiceNo(t, 2)})
	for attempt := 1; attempt <= 2; attempt++ {
		j := h.next(t)
		if j.ID != flaky.ID || j.Attempts != attempt {
			t.Fatalf("attempt %d: got job %s attempt %d", attempt, j.ID, j.Attempts)
		}
		h.Finish(ctx, j.ID, scheduler.Outcome{Err: boom})
	}
	if j, _ := h.Get(ctx, flaky.ID); j.State != scheduler.Failed || j.ErrorKind != string(errcode.AttemptsExceeded) || !strings.Contains(j.Error, "device lost") {
		t.Fatalf("flaky job: %s %s %q", j.State, j.ErrorKind, j.Error)
	}

	bad := h.submit(t, scheduler.Request{Input: invoiceNo(t, 3)})
	h.next(t)
	h.Finish(ctx, bad.ID, scheduler.Outcome{Err: input.Rule("x", "does not hold")})
	if j, _ := h.Get(ctx, bad.ID); j.State != scheduler.Failed || j.Attempts != 1 || j.ErrorKind != string(errcode.Unsatisfied) {
		t.Fatalf("permanent failure: %+v", j)
	}
}

func TestWaitAndExpire(t *testing.T) {
	h := newHarness(t, scheduler.Config{Retention: time.Hour})
	ctx := context.Background()
	j := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	done := make(chan *scheduler.Job)
	go func() {
		w, err := h.Wait(ctx, j.ID)
		if err != nil {
			t.Error(err)
		}
		done <- w
	}()
	h.next(t)
	h.Finish(ctx, j.ID, scheduler.Outcome{Result: []byte("{}")})
	select {
	case w := <-done:
		if w.State != scheduler.Succeeded {
			t.Fatalf("wait returned %s", w.State)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
	if n, _ := h.Expire(ctx); n != 0 {
		t.Fatalf("expired %d fresh jobs", n)
	}
	h.clock.Add(2 * time.Hour)
	if n, _ := h.Expire(ctx); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if _, err := h.Get(ctx, j.ID); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("expired job still there: %v", err)
	}
}

func TestDrainRefusesNewJobs(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	h.Drain()
	if _, _, err := h.Submit(context.Background(), scheduler.Request{Circuit: circuit, Input: []byte(example)}); !errors.Is(err, scheduler.ErrDraining) {
		t.Fatalf("got %v", err)
	}
}

// A crash loop of the process around a job costs the job none of its
// attempts: killed three times while it ran (MaxAttempts 3), it is still
// queued, runs, and may still fail and retry as often as before.
func TestCrashLoopKeepsTheJob(t *testing.T) {
	cfg := scheduler.Config{MaxAttempts: 3}
	h := newHarness(t, cfg)
	id := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)}).ID
	path, c := h.path, h.clock
	for range 3 {
		if j := h.next(t); j.ID != id {
			t.Fatalf("ran %s", j.ID)
		}
		h.store.Close() // the process dies mid-proof
		h = openHarness(t, path, cfg, c)
	}
	j := h.next(t)
	if j.ID != id || j.State != scheduler.Running || j.Interruptions != 3 {
		t.Fatalf("after 3 crashes: %s %s, %d interruptions; want it running again", j.ID, j.State, j.Interruptions)
	}
	// Its own failures still get MaxAttempts tries.
	for i := range 3 {
		if err := h.Finish(context.Background(), id, scheduler.Outcome{Err: errcode.New(errcode.DeviceFailure, "device lost")}); err != nil {
			t.Fatal(err)
		}
		got, _ := h.Get(context.Background(), id)
		if i < 2 {
			if got.State != scheduler.Queued {
				t.Fatalf("after failure %d: %s", i+1, got.State)
			}
			h.next(t)
		} else if got.State != scheduler.Failed || got.ErrorKind != string(errcode.AttemptsExceeded) || !strings.Contains(got.Error, "failed 3 times") {
			t.Fatalf("after 3 failures: %s %s %q", got.State, got.ErrorKind, got.Error)
		}
	}
}

// A job that was running in every one of MaxInterruptions processes that
// died is failed at the next start instead of crashing it again.
func TestPoisonJobStopsAfterMaxInterruptions(t *testing.T) {
	cfg := scheduler.Config{MaxAttempts: 2, MaxInterruptions: 4}
	h := newHarness(t, cfg)
	id := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)}).ID
	path, c := h.path, h.clock
	for range 4 {
		if j := h.next(t); j.ID != id {
			t.Fatalf("ran %s", j.ID)
		}
		h.store.Close()
		h = openHarness(t, path, cfg, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if j, err := h.Next(ctx); err == nil {
		t.Fatalf("the poison job ran again: %+v", j)
	}
	j, _ := h.Get(context.Background(), id)
	if j.State != scheduler.Failed || j.ErrorKind != string(errcode.AttemptsExceeded) || !strings.Contains(j.Error, "stopped 4 times") {
		t.Fatalf("poison job: %s %s %q", j.State, j.ErrorKind, j.Error)
	}
}

func TestWatchingAnUnknownJob(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	if _, err := h.WaitChange(context.Background(), "nope", 0); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
}

// Cancelled jobs, and jobs that failed for a reason another try could fix,
// start afresh when resubmitted; a false statement's failure stands.
func TestResubmitAfterFailure(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	cancelled := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	h.Cancel(ctx, cancelled.ID)
	again, created, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)})
	if err != nil || !created || again.ID != cancelled.ID || again.State != scheduler.Queued || again.Version <= cancelled.Version {
		t.Fatalf("resubmit a cancelled job: %+v %v %v", again, created, err)
	}
	if j := h.next(t); j.ID != again.ID || j.Attempts != 1 {
		t.Fatalf("the fresh job did not run: %+v", j)
	}
	h.Finish(ctx, again.ID, scheduler.Outcome{Err: input.Rule("x", "does not hold")})
	if j, created, _ := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)}); created || j.State != scheduler.Failed {
		t.Fatalf("a false statement's failure was retried: %+v", j)
	}
}

// Watching finished and unknown jobs leaves nothing behind.
func TestWatchesDoNotLeak(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	j := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	h.next(t)
	h.Finish(ctx, j.ID, scheduler.Outcome{Result: []byte("{}")})
	for range 100 {
		if _, err := h.Wait(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		h.WaitChange(ctx, "unknown", 0)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	h.WaitChange(short, j.ID, 1<<60) // times out
	if n := h.Watches(); n != 0 {
		t.Fatalf("%d watches left behind", n)
	}
}

// A job that failed for want of keys (development keys refused, say)
// starts afresh when resubmitted, once the keys are fixed.
func TestResubmitAfterAKeyFailure(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	j := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	h.next(t)
	h.Finish(ctx, j.ID, scheduler.Outcome{Err: errcode.New(errcode.DevelopmentKeys, "development keys refused in production")})
	if got, _ := h.Get(ctx, j.ID); got.State != scheduler.Failed || got.ErrorKind != string(errcode.DevelopmentKeys) || got.Attempts != 1 {
		t.Fatalf("after the key failure: %+v", got)
	}
	if again, created, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)}); err != nil || !created || again.State != scheduler.Queued {
		t.Fatalf("resubmitted: %+v %v %v", again, created, err)
	}
}

// A result proved with other keys than the job was pinned to is never
// stored as its proof: the attempt fails as a key mismatch, and retries.
func TestFinishRefusesAnotherKey(t *testing.T) {
	h := newHarness(t, scheduler.Config{MaxAttempts: 2,
		VerifyingKey: func(context.Context, string) (string, error) { return "pinned-digest", nil }})
	ctx := context.Background()
	j := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	for range 2 {
		run := h.next(t)
		h.Finish(ctx, run.ID, scheduler.Outcome{Attempt: run.Attempts, Result: []byte(`{}`), VerifyingKey: "other-digest",
			PublicInputs: []scheduler.PublicInput{{Name: "n", Value: "1"}}})
	}
	got, _ := h.Get(ctx, j.ID)
	if got.State != scheduler.Failed || got.ErrorKind != string(errcode.AttemptsExceeded) || !strings.Contains(got.Error, "verifying key") ||
		got.VerifyingKey != "pinned-digest" || got.Result != nil || got.PublicInputs != nil {
		t.Fatalf("a proof for other keys: %+v", got)
	}
	ok := h.submit(t, scheduler.Request{Input: invoiceNo(t, 2)})
	run := h.next(t)
	h.Finish(ctx, run.ID, scheduler.Outcome{Attempt: run.Attempts, Result: []byte(`{}`), VerifyingKey: "pinned-digest"})
	if got, _ := h.Get(ctx, ok.ID); got.State != scheduler.Succeeded {
		t.Fatalf("a proof for the pinned key: %+v", got)
	}
}
