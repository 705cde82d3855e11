package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/proofmill/proofmill/scheduler"
)

// A running attempt's stages reach its watcher; a report from another
// attempt, or for a job not running, changes nothing; the stage is gone
// once the attempt ends.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, scheduler.Config{})
	j := h.submit(t, scheduler.Request{Circuit: circuit, Input: []byte(example)})
	if err := h.Progress(ctx, j.ID, 1, scheduler.StageSolving); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.Get(ctx, j.ID); got.Stage != "" || got.Version != j.Version {
		t.Fatalf("a queued job took a stage: %q (version %d, was %d)", got.Stage, got.Version, j.Version)
	}
	run := h.next(t)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		attempt int
		stage   scheduler.Stage
		want    scheduler.Stage // what a watcher then sees
		changes bool
	}{
		{run.Attempts, scheduler.StageMakingKeys, scheduler.StageMakingKeys, true},
		{run.Attempts, scheduler.StageMakingKeys, scheduler.StageMakingKeys, false}, // the same stage again
		{run.Attempts + 1, scheduler.StageVerifying, scheduler.StageMakingKeys, false},
		{run.Attempts, scheduler.StageProving, scheduler.StageProving, true},
	} {
		before, _ := h.Get(ctx, j.ID)
		if err := h.Progress(ctx, j.ID, c.attempt, c.stage); err != nil {
			t.Fatal(err)
		}
		after, _ := h.Get(ctx, j.ID)
		if after.Stage != c.want || (after.Version != before.Version) != c.changes {
			t.Fatalf("report %s for attempt %d: stage %q version %d→%d, want %q (a change: %v)", c.stage, c.attempt, after.Stage, before.Version, after.Version, c.want, c.changes)
		}
		if c.changes {
			seen, err := h.WaitChange(wctx, j.ID, before.Version)
			if err != nil || seen.Stage != c.want {
				t.Fatalf("watcher saw %v, %v; want stage %q", seen, err, c.want)
			}
		}
	}
	if err := h.Finish(ctx, j.ID, scheduler.Outcome{Attempt: run.Attempts, Result: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.Get(ctx, j.ID); got.State != scheduler.Succeeded || got.Stage != "" {
		t.Fatalf("after success: %s at stage %q", got.State, got.Stage)
	}
}

// An attempt handed back before it ran (a shutdown during key setup) puts
// the job back in line without counting the attempt.
func TestNotRunHandsBackUncounted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, scheduler.Config{MaxAttempts: 1})
	j := h.submit(t, scheduler.Request{Circuit: circuit, Input: []byte(example)})
	for range 3 { // more hand-backs than MaxAttempts allows failures
		run := h.next(t)
		if err := h.Progress(ctx, j.ID, run.Attempts, scheduler.StageMakingKeys); err != nil {
			t.Fatal(err)
		}
		if err := h.Finish(ctx, j.ID, scheduler.Outcome{Attempt: run.Attempts, NotRun: true}); err != nil {
			t.Fatal(err)
		}
		got, _ := h.Get(ctx, j.ID)
		if got.State != scheduler.Queued || got.Attempts != 0 || got.Stage != "" || got.Error != "" {
			t.Fatalf("handed back: %s, %d attempts, stage %q, error %q; want queued, 0, none", got.State, got.Attempts, got.Stage, got.Error)
		}
	}
	run := h.next(t)
	if run.Attempts != 1 {
		t.Fatalf("the run after hand-backs is attempt %d, want 1", run.Attempts)
	}
}
