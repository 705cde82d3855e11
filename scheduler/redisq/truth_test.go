package redisq_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
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
	const attempts = 2
	v := newAsynqView(t, redisq.QueueConfig{Tenants: map[string]int{"bank-a": 1}, MaxAttempts: attempts, Retention: time.Hour})
	const interactive, batch = "proofmill.interactive", "proofmill.batch"
	qs, err := v.in.Queues()
	slices.Sort(qs)
	if want := []string{"proofmill.bank-a.batch", "proofmill.bank-a.interactive", batch, interactive}; err != nil || !slices.Equal(qs, want) {
		t.Fatalf("asynq's queues before any job: %v %v; want %v", qs, err, want)
	}
	if err := v.in.PauseQueue(batch); err != nil { // the late job waits there
		t.Fatal(err)
	}

	good := v.submit(1, scheduler.Request{})
	v.succeed(v.next(good.ID))
	done := v.task(interactive, good.ID, asynq.TaskStateCompleted)
	if done.Retention != time.Hour || done.MaxRetry != attempts-1 {
		t.Fatalf("completed task: %+v", done)
	}
	var pl map[string]string
	if err := json.Unmarshal(done.Payload, &pl); err != nil || pl["job"] != good.ID || pl["circuit"] != "invoice-consistency/v1" ||
		pl["priority"] != "interactive" {
		t.Fatalf("payload %s: %v", done.Payload, err)
	}

	bad := v.submit(2, scheduler.Request{Tenant: "bank-a"})
	const tenantQueue = "proofmill.bank-a.interactive"
	v.fail(v.next(bad.ID))
	var retry *asynq.TaskInfo
	for retry == nil || retry.Retried != 1 { // waiting for its retry, or in line again
		retry, err = v.in.GetTaskInfo(tenantQueue, bad.ID)
		if err != nil || v.ctx.Err() != nil {
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
	v.fail(v.next(bad.ID))
	failed := v.task(tenantQueue, bad.ID, asynq.TaskStateArchived)
	if !strings.HasPrefix(failed.LastErr, string(errcode.AttemptsExceeded)+": ") || !strings.Contains(failed.LastErr, "the GPU fell off the bus") ||
		failed.Retried != attempts-1 || failed.MaxRetry != attempts-1 {
		t.Fatalf("failed task: %+v", failed)
	}

	late := v.submit(3, scheduler.Request{Priority: scheduler.Batch, Deadline: time.Now().Add(200 * time.Millisecond)})
	lost := v.task(batch, late.ID, asynq.TaskStateArchived)
	if !strings.HasPrefix(lost.LastErr, string(errcode.DeadlineExceeded)+": ") || lost.LastFailedAt.IsZero() {
		t.Fatalf("late task: %+v", lost)
	}
	if err := json.Unmarshal(lost.Payload, &pl); err != nil || pl["job"] != late.ID || pl["priority"] != "batch" {
		t.Fatalf("payload %s: %v", lost.Payload, err)
	}

	// asynq counts each failed attempt as failed; a job's end, archived.
	for queue, want := range map[string][2]int{interactive: {0, 0}, tenantQueue: {2, 1}, batch: {1, 1}} {
		info, err := v.in.GetQueueInfo(queue)
		if err != nil || info.Failed != want[0] || info.FailedTotal != want[0] || info.Archived != want[1] {
			t.Fatalf("queue %s: %+v %v; want %d failed, %d archived", queue, info, err, want[0], want[1])
		}
	}
	if info, _ := v.in.GetQueueInfo(interactive); info.Completed != 1 || info.Processed != 1 {
		t.Fatalf("queue %s: %+v", interactive, info)
	}

	// A failed job submitted again runs again: its archived task is
	// replaced by one in line.
	if err := v.in.UnpauseQueue(batch); err != nil {
		t.Fatal(err)
	}
	again := v.submit(3, scheduler.Request{Priority: scheduler.Batch})
	if again.ID != late.ID {
		t.Fatalf("resubmitted as %s, not %s", again.ID, late.ID)
	}
	v.succeed(v.next(late.ID))
	v.task(batch, late.ID, asynq.TaskStateCompleted)
}
