package redisq_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// asynq's view tells the truth: through the scheduler's path (Submit,
// Next, Finish, as the worker pool calls them), asynq's Inspector lists
// every queue before any job, shows a succeeded job's task completed, a
// retry waiting with the failed attempt's reason, a job that failed its
// attempts and one that failed its deadline in line as archived failures
// with their reasons, MaxRetry one less than the attempts, and payloads
// that name job, circuit, tenant and priority.
func TestAsynqSeesHowJobsEnded(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const attempts = 2
	q := redisq.NewQueue(c, redisq.QueueConfig{Concurrency: 1, Poll: 20 * time.Millisecond, Logger: quiet,
		Tenants: map[string]int{"bank-a": 1}, MaxAttempts: attempts, Retention: time.Hour})
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer in.Close()
	const interactive, batch = "proofmill.interactive", "proofmill.batch"
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer q.Shutdown()
	qs, err := in.Queues()
	slices.Sort(qs)
	if want := []string{"proofmill.bank-a.batch", "proofmill.bank-a.interactive", batch, interactive}; err != nil || !slices.Equal(qs, want) {
		t.Fatalf("asynq's queues before any job: %v %v; want %v", qs, err, want)
	}
	if err := in.PauseQueue(batch); err != nil { // the late job waits there
		t.Fatal(err)
	}
	st := redisq.NewStore(c, redisq.StoreConfig{Retention: time.Hour})
	s := scheduler.New(st, q, scheduler.Config{MaxAttempts: attempts, Retention: time.Hour, Logger: quiet, Admitter: redisq.NewAdmitter(st, q)})
	defer s.Close()
	submit := func(n int, r scheduler.Request) *scheduler.Job {
		r.Circuit, r.Input = "invoice-consistency/v1", conformance.Input(t, n)
		j, _, err := s.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	next := func(want string) *scheduler.Job { return nextJob(ctx, t, s, want) }
	task := func(queue, id string, state asynq.TaskState) *asynq.TaskInfo {
		return taskIn(ctx, t, in, queue, id, state)
	}

	good := submit(1, scheduler.Request{})
	if j := next(good.ID); s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte("proof")}) != nil {
		t.Fatal("finish")
	}
	done := task(interactive, good.ID, asynq.TaskStateCompleted)
	if done.Retention != time.Hour || done.MaxRetry != attempts-1 {
		t.Fatalf("completed task: %+v", done)
	}
	var pl map[string]string
	if err := json.Unmarshal(done.Payload, &pl); err != nil || pl["job"] != good.ID || pl["circuit"] != "invoice-consistency/v1" ||
		pl["priority"] != "interactive" {
		t.Fatalf("payload %s: %v", done.Payload, err)
	}

	bad := submit(2, scheduler.Request{Tenant: "bank-a"})
	const tenantQueue = "proofmill.bank-a.interactive"
	if j := next(bad.ID); s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Err: errcode.Errorf(errcode.DeviceFailure, "the GPU fell off the bus")}) != nil {
		t.Fatal("finish")
	}
	var retry *asynq.TaskInfo
	for retry == nil || retry.Retried != 1 { // waiting for its retry, or in line again
		retry, err = in.GetTaskInfo(tenantQueue, bad.ID)
		if err != nil || ctx.Err() != nil {
			t.Fatalf("retried task: %+v %v", retry, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(retry.LastErr, "device_failure") || !strings.Contains(retry.LastErr, "the GPU fell off the bus") || retry.MaxRetry != attempts-1 {
		t.Fatalf("retried task: %+v", retry)
	}
	if err := json.Unmarshal(retry.Payload, &pl); err != nil || pl["job"] != bad.ID || pl["tenant"] != "bank-a" || pl["circuit"] == "" {
		t.Fatalf("payload %s: %v", retry.Payload, err)
	}
	if j := next(bad.ID); s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Err: errcode.Errorf(errcode.DeviceFailure, "the GPU fell off the bus")}) != nil {
		t.Fatal("finish")
	}
	failed := task(tenantQueue, bad.ID, asynq.TaskStateArchived)
	if !strings.HasPrefix(failed.LastErr, string(errcode.AttemptsExceeded)+": ") || !strings.Contains(failed.LastErr, "the GPU fell off the bus") ||
		failed.Retried != attempts-1 || failed.MaxRetry != attempts-1 {
		t.Fatalf("failed task: %+v", failed)
	}

	late := submit(3, scheduler.Request{Priority: scheduler.Batch, Deadline: time.Now().Add(200 * time.Millisecond)})
	lost := task(batch, late.ID, asynq.TaskStateArchived)
	if !strings.HasPrefix(lost.LastErr, string(errcode.DeadlineExceeded)+": ") || lost.LastFailedAt.IsZero() {
		t.Fatalf("late task: %+v", lost)
	}
	if err := json.Unmarshal(lost.Payload, &pl); err != nil || pl["job"] != late.ID || pl["priority"] != "batch" {
		t.Fatalf("payload %s: %v", lost.Payload, err)
	}

	// asynq counts each failed attempt as failed; a job's end, archived.
	for queue, want := range map[string][2]int{interactive: {0, 0}, tenantQueue: {2, 1}, batch: {1, 1}} {
		info, err := in.GetQueueInfo(queue)
		if err != nil || info.Failed != want[0] || info.FailedTotal != want[0] || info.Archived != want[1] {
			t.Fatalf("queue %s: %+v %v; want %d failed, %d archived", queue, info, err, want[0], want[1])
		}
	}
	if info, _ := in.GetQueueInfo(interactive); info.Completed != 1 || info.Processed != 1 {
		t.Fatalf("queue %s: %+v", interactive, info)
	}

	// A failed job submitted again runs again: its archived task is
	// replaced by one in line.
	if err := in.UnpauseQueue(batch); err != nil {
		t.Fatal(err)
	}
	again := submit(3, scheduler.Request{Priority: scheduler.Batch})
	if again.ID != late.ID {
		t.Fatalf("resubmitted as %s, not %s", again.ID, late.ID)
	}
	if j := next(late.ID); s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte("proof")}) != nil {
		t.Fatal("finish")
	}
	task(batch, late.ID, asynq.TaskStateCompleted)
}

// nextJob is s.Next, which must give the job want.
func nextJob(ctx context.Context, t *testing.T, s *scheduler.Scheduler, want string) *scheduler.Job {
	t.Helper()
	j, err := s.Next(ctx)
	if err != nil || j.ID != want {
		t.Fatalf("next: %v %v; want %s", j, err, want)
	}
	return j
}

// taskIn waits for asynq to show task id in queue in state.
func taskIn(ctx context.Context, t *testing.T, in *asynq.Inspector, queue, id string, state asynq.TaskState) *asynq.TaskInfo {
	t.Helper()
	var info *asynq.TaskInfo
	for ctx.Err() == nil {
		var err error
		if info, err = in.GetTaskInfo(queue, id); err == nil && info.State == state {
			return info
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %s in %s: %+v, not %v", id, queue, info, state)
	return nil
}
