package redisq_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// A task on its last retry that asynq archives while its job is
// unfinished (the worker handed it back, or died: asynq archives on any
// error once the retries are spent) is put back in line by the next
// reconciliation, and the job runs to success; a job that failed for good
// stays archived; and the reconciliation reads only what was archived
// since its last look (TestReconcileTouchesOnlyStrays counts it).
func TestReconcilePushesBackArchivedUnfinished(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const attempts, queue = 2, "proofmill.interactive"
	q := redisq.NewQueue(c, redisq.QueueConfig{Concurrency: 1, Poll: 20 * time.Millisecond, Logger: quiet, MaxAttempts: attempts})
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer q.Shutdown()
	st := redisq.NewStore(c, redisq.StoreConfig{})
	s := scheduler.New(st, q, scheduler.Config{MaxAttempts: attempts, Logger: quiet, Admitter: redisq.NewAdmitter(st, q)})
	defer s.Close()
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer in.Close()
	next := func(want string) *scheduler.Job { return nextJob(ctx, t, s, want) }
	task := func(id string, state asynq.TaskState) *asynq.TaskInfo { return taskIn(ctx, t, in, queue, id, state) }
	fail := func(j *scheduler.Job) {
		if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Err: errcode.Errorf(errcode.DeviceFailure, "the GPU fell off the bus")}); err != nil {
			t.Fatal(err)
		}
	}

	// A job that failed for good: archived, and left so.
	bad, _, err := s.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 7001)})
	if err != nil {
		t.Fatal(err)
	}
	fail(next(bad.ID))
	fail(next(bad.ID))
	task(bad.ID, asynq.TaskStateArchived)

	// A job on its last attempt whose task asynq archives while the job
	// runs: its worker hands it back (as a failing store, or a shutdown,
	// does; a worker's death, its lease lapsing, is archived the same).
	job, _, err := s.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 7002)})
	if err != nil {
		t.Fatal(err)
	}
	fail(next(job.ID))
	last := next(job.ID)
	if err := q.Release(ctx, job.ID, last.Class(), true); err != nil {
		t.Fatal(err)
	}
	if info := task(job.ID, asynq.TaskStateArchived); info.Retried != attempts-1 {
		t.Fatalf("archived task: %+v", info)
	}
	if j, err := st.Get(ctx, job.ID); err != nil || j.State != scheduler.Running {
		t.Fatalf("job: %+v %v; want it running, unfinished", j, err)
	}

	if k, err := s.Reconcile(ctx); err != nil || k != 1 {
		t.Fatalf("reconcile: %d pushed, %v; want 1 (the unfinished job, not the failed one)", k, err)
	}
	if info, err := in.GetTaskInfo(queue, bad.ID); err != nil || info.State != asynq.TaskStateArchived {
		t.Fatalf("failed job's task after reconciling: %+v %v", info, err)
	}
	again := next(job.ID) // its process "died": an interruption, not a failed attempt
	if again.Interruptions != 1 || again.Attempts-again.Interruptions != attempts {
		t.Fatalf("job run again: attempts %d, interruptions %d", again.Attempts, again.Interruptions)
	}
	if err := s.Finish(ctx, job.ID, scheduler.Outcome{Attempt: again.Attempts, Result: []byte("proof")}); err != nil {
		t.Fatal(err)
	}
	task(job.ID, asynq.TaskStateCompleted)
	if j, err := st.Get(ctx, job.ID); err != nil || j.State != scheduler.Succeeded {
		t.Fatalf("job: %+v %v; want it succeeded", j, err)
	}
	if k, err := s.Reconcile(ctx); err != nil || k != 0 {
		t.Fatalf("reconciling again: %d pushed, %v; want none", k, err)
	}

	// Archived through asynq's Inspector, the same.
	if err := in.PauseQueue(queue); err != nil { // so the consumer does not take it first
		t.Fatal(err)
	}
	third, _, err := s.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 7003)})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.ArchiveTask(queue, third.ID); err != nil {
		t.Fatal(err)
	}
	if k, err := s.Reconcile(ctx); err != nil || k != 1 {
		t.Fatalf("reconcile after asynq's archive: %d pushed, %v; want 1", k, err)
	}
	task(third.ID, asynq.TaskStatePending)
	if err := in.UnpauseQueue(queue); err != nil {
		t.Fatal(err)
	}
	j := next(third.ID)
	if err := s.Finish(ctx, j.ID, scheduler.Outcome{Attempt: j.Attempts, Result: []byte("proof")}); err != nil {
		t.Fatal(err)
	}
	task(third.ID, asynq.TaskStateCompleted)
}
