package redisq_test

import (
	"testing"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// A task on its last retry that asynq archives while its job is
// unfinished (the worker handed it back, or died: asynq archives on any
// error once the retries are spent) is put back in line by the next
// reconciliation, and the job runs to success; a job that failed for good
// stays archived; and the reconciliation reads only what was archived
// since its last look (TestReconcileTouchesOnlyStrays counts it).
func TestReconcilePushesBackArchivedUnfinished(t *testing.T) {
	const attempts, queue = 2, "proofmill.interactive"
	v := newAsynqView(t, redisq.QueueConfig{MaxAttempts: attempts})
	ctx := v.ctx
	task := func(id string, state asynq.TaskState) *asynq.TaskInfo { return v.task(queue, id, state) }

	// A job that failed for good: archived, and left so.
	bad := v.submit(7001, scheduler.Request{})
	v.fail(v.next(bad.ID))
	v.fail(v.next(bad.ID))
	task(bad.ID, asynq.TaskStateArchived)

	// A job on its last attempt whose task asynq archives while the job
	// runs: its worker hands it back (as a failing store, or a shutdown,
	// does; a worker's death, its lease lapsing, is archived the same).
	job := v.submit(7002, scheduler.Request{})
	v.fail(v.next(job.ID))
	last := v.next(job.ID)
	if err := v.q.Release(ctx, job.ID, last.Class(), true); err != nil {
		t.Fatal(err)
	}
	if info := task(job.ID, asynq.TaskStateArchived); info.Retried != attempts-1 {
		t.Fatalf("archived task: %+v", info)
	}
	if j, err := v.st.Get(ctx, job.ID); err != nil || j.State != scheduler.Running {
		t.Fatalf("job: %+v %v; want it running, unfinished", j, err)
	}

	if k, err := v.s.Reconcile(ctx); err != nil || k != 1 {
		t.Fatalf("reconcile: %d pushed, %v; want 1 (the unfinished job, not the failed one)", k, err)
	}
	if info, err := v.in.GetTaskInfo(queue, bad.ID); err != nil || info.State != asynq.TaskStateArchived {
		t.Fatalf("failed job's task after reconciling: %+v %v", info, err)
	}
	again := v.next(job.ID) // its process "died": an interruption, not a failed attempt
	if again.Interruptions != 1 || again.Attempts-again.Interruptions != attempts {
		t.Fatalf("job run again: attempts %d, interruptions %d", again.Attempts, again.Interruptions)
	}
	v.succeed(again)
	task(job.ID, asynq.TaskStateCompleted)
	if j, err := v.st.Get(ctx, job.ID); err != nil || j.State != scheduler.Succeeded {
		t.Fatalf("job: %+v %v; want it succeeded", j, err)
	}
	if k, err := v.s.Reconcile(ctx); err != nil || k != 0 {
		t.Fatalf("reconciling again: %d pushed, %v; want none", k, err)
	}

	// Archived through asynq's Inspector, the same.
	if err := v.in.PauseQueue(queue); err != nil { // so the consumer does not take it first
		t.Fatal(err)
	}
	third := v.submit(7003, scheduler.Request{})
	if err := v.in.ArchiveTask(queue, third.ID); err != nil {
		t.Fatal(err)
	}
	if k, err := v.s.Reconcile(ctx); err != nil || k != 1 {
		t.Fatalf("reconcile after asynq's archive: %d pushed, %v; want 1", k, err)
	}
	task(third.ID, asynq.TaskStatePending)
	if err := v.in.UnpauseQueue(queue); err != nil {
		t.Fatal(err)
	}
	v.succeed(v.next(third.ID))
	task(third.ID, asynq.TaskStateCompleted)
}
