package scheduler_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

func TestStartsAhead(t *testing.T) {
	for _, c := range []struct {
		interactive, batch int
		p                  scheduler.Priority
		want               int
	}{
		{0, 0, scheduler.Interactive, 0},
		{0, 0, scheduler.Batch, 0},
		{3, 0, scheduler.Interactive, 3},
		{0, 5, scheduler.Interactive, 0},  // interactive jumps the batch line
		{8, 5, scheduler.Interactive, 10}, // and lets one batch job in per four
		{8, 1, scheduler.Interactive, 9},
		{0, 5, scheduler.Batch, 5},
		{10, 0, scheduler.Batch, 4}, // four interactive starts, then this one
		{10, 2, scheduler.Batch, 12},
		{100, 2, scheduler.Batch, 14},
	} {
		if got := scheduler.StartsAhead([2]int{c.interactive, c.batch}, c.p); got != c.want {
			t.Errorf("%d interactive, %d batch waiting, a new %s job: %d ahead, want %d", c.interactive, c.batch, c.p, got, c.want)
		}
	}
}

// With a scripted clock: after three 10 s proofs on 2 slots, a job behind
// 4 others is predicted to start in 20 s; a deadline before that is
// refused, naming the predicted start, and nothing is stored. Behind 4
// interactive and 6 batch jobs, an interactive job has 5 ahead (one batch
// job goes in per four): 25 s. Admitted with a deadline after that, it
// starts 5 s before the forecast, and the error is reported.
func TestDeadlineAwareAdmission(t *testing.T) {
	var late []time.Duration
	h := newHarness(t, scheduler.Config{Slots: func() int { return 2 }, ForecastError: func(d time.Duration) { late = append(late, d) }})
	ctx := context.Background()
	n := 0
	next := func() []byte { n++; return invoiceNo(t, n) }
	for range 3 {
		h.submit(t, scheduler.Request{Input: next()})
		j := h.next(t)
		h.clock.Add(10 * time.Second)
		if err := h.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	if len(late) != 0 {
		t.Fatalf("jobs admitted without a forecast reported errors: %v", late)
	}
	for range 4 {
		h.submit(t, scheduler.Request{Input: next()})
	}
	now := h.clock.Now()

	_, _, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: next(), Deadline: now.Add(19 * time.Second)})
	if !errors.Is(err, scheduler.ErrDeadlineUnmeetable) || errcode.Of(err) != errcode.DeadlineUnmeetable {
		t.Fatalf("a deadline 19 s out: %v, want ErrDeadlineUnmeetable", err)
	}
	if want := now.Add(20 * time.Second).Format(time.RFC3339); !strings.Contains(err.Error(), "predicted to start at "+want) ||
		!strings.Contains(err.Error(), "4 jobs ahead on 2 slots") {
		t.Fatalf("the refusal %q does not name the predicted start %s and the work ahead", err, want)
	}
	if w, _ := h.Waiting(ctx); w[scheduler.Interactive] != 4 {
		t.Fatalf("a refused job was queued: %v waiting", w)
	}

	for range 6 {
		h.submit(t, scheduler.Request{Input: next(), Priority: scheduler.Batch})
	}
	if _, _, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: next(), Deadline: now.Add(24 * time.Second)}); !errors.Is(err, scheduler.ErrDeadlineUnmeetable) {
		t.Fatalf("behind 5, a deadline 24 s out: %v, want ErrDeadlineUnmeetable", err)
	}
	admitted := h.submit(t, scheduler.Request{Input: next(), Deadline: now.Add(26 * time.Second)})

	// Five start before it, two at a time: at 0, 0, 10, 10 and 20 s, and
	// it at 20 s too (a proof ended early): 5 s before the forecast.
	for i, at := range []time.Duration{0, 0, 10 * time.Second, 10 * time.Second, 20 * time.Second} {
		h.clock.Add(at - h.clock.Now().Sub(now))
		if j := h.next(t); j.ID == admitted.ID {
			t.Fatalf("the forecast job started %dth of six", i+1)
		}
	}
	if j := h.next(t); j.ID != admitted.ID {
		t.Fatalf("job %s (%s) started sixth, want the forecast one", j.ID, j.Priority)
	}
	// Every job admitted with a forecast reports its error: the four
	// interactive ones (forecast at 0, 5, 10, 15 s), the first batch one
	// (behind four interactive: 20 s), and it.
	want := []time.Duration{0, -20 * time.Second, 5 * time.Second, 0, 5 * time.Second, -5 * time.Second}
	if !slices.Equal(late, want) {
		t.Fatalf("forecast errors %v, want %v", late, want)
	}
}

// Before it has seen proofs, or without slots to prove on, a scheduler
// refuses no deadline, however tight.
func TestNoForecastWithoutEvidence(t *testing.T) {
	for name, slots := range map[string]int{"no proofs seen": 2, "no slots": 0} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, scheduler.Config{Slots: func() int { return slots }})
			ctx := context.Background()
			if slots == 0 {
				for i := range 4 {
					h.submit(t, scheduler.Request{Input: invoiceNo(t, i)})
					j := h.next(t)
					h.clock.Add(time.Minute)
					if err := h.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte("{}")}); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range 10 {
				h.submit(t, scheduler.Request{Input: invoiceNo(t, 100+i)})
			}
			if _, _, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 200), Deadline: h.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 201), Deadline: h.clock.Now().Add(time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// While a starting server recovers, submissions are refused as
// UNAVAILABLE (clients retry); once released, admitted.
func TestHoldSubmissions(t *testing.T) {
	h := newHarness(t, scheduler.Config{})
	ctx := context.Background()
	release := h.HoldSubmissions()
	_, _, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Input: invoiceNo(t, 1)})
	if !errors.Is(err, scheduler.ErrRecovering) || errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("while held: %v, want ErrRecovering", err)
	}
	if w, _ := h.Waiting(ctx); w[scheduler.Interactive] != 0 {
		t.Fatalf("a held submission was queued: %v", w)
	}
	release()
	release() // once only
	h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
}
