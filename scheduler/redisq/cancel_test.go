package redisq_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// A job cancelled by a server while a worker (another process: its own
// connections and consumer) runs it: the worker's attempt context ends
// with ErrCancelled, its late proof is dropped, and the task ends deleted
// (asynq's revocation), not retried.
func TestCancelReachesTheWorker(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	producer := redisq.NewQueue(c, redisq.QueueConfig{Logger: quiet, Tenants: testTenants}) // consumes nothing
	worker := open(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	front := scheduler.New(redisq.NewStore(c, redisq.StoreConfig{}), producer, scheduler.Config{Logger: quiet})
	back := scheduler.New(worker.Store, worker.Queue, scheduler.Config{Logger: quiet})
	j, _, err := front.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 9100)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := back.Next(ctx)
	if err != nil || run.ID != j.ID {
		t.Fatalf("next: %+v %v", run, err)
	}
	attempt, done := back.Attempt(ctx, run)
	defer done()
	sent := time.Now()
	if c, err := front.Cancel(ctx, j.ID); err != nil || c.State != scheduler.Cancelled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	select {
	case <-attempt.Done():
		t.Logf("the worker's attempt ended %s after the cancel", time.Since(sent).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatal("the worker was never told of the cancel")
	}
	if !errors.Is(context.Cause(attempt), scheduler.ErrCancelled) {
		t.Fatalf("cause %v", context.Cause(attempt))
	}
	if err := back.Finish(ctx, run.ID, scheduler.Outcome{Attempt: run.Attempts, Result: []byte(`{"proof":1}`), Backend: "cpu"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := front.Get(ctx, j.ID); got.State != scheduler.Cancelled || got.Result != nil {
		t.Fatalf("after the late proof: %s result %q", got.State, got.Result)
	}
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer in.Close()
	queue := redisq.QueueName(scheduler.Class{Priority: scheduler.Interactive})
	for {
		_, err := in.GetTaskInfo(queue, j.ID)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the cancelled job's task stays: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
