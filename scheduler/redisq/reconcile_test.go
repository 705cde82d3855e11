package redisq_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// The task proofmill writes is the one asynq's own Client.Enqueue writes
// for the same job, byte for byte; asynq's Inspector sees it pending with
// its options, and an asynq server hands it to Pop.
func TestTaskMessageIsAsynqs(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := redisq.Client(c)
	deadline := time.Now().Add(10 * 365 * 24 * time.Hour).Truncate(time.Second)

	// asynq's own enqueue, with the options proofmill's push used to give it.
	ac := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr})
	defer ac.Close()
	const theirs, queue = "their-job", "proofmill.interactive"
	if _, err := ac.EnqueueContext(ctx, asynq.NewTask(redisq.TaskType, []byte(`{"job":"`+theirs+`","circuit":"age-over/v1","tenant":"bank-a","priority":"interactive"}`)),
		asynq.TaskID(theirs), asynq.Queue(queue), asynq.MaxRetry(2), asynq.Timeout(0), asynq.Deadline(deadline), asynq.Retention(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want, err := rc.HGet(ctx, "asynq:{"+queue+"}:t:"+theirs, "msg").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if got := redisq.TaskMessage(theirs, "age-over/v1", scheduler.Class{Tenant: "bank-a", Priority: scheduler.Interactive}, queue, 2, 24*time.Hour, deadline); !bytes.Equal(got, want) {
		t.Fatalf("task message\n got %x\nwant %x (asynq's)", got, want)
	}

	q := redisq.NewQueue(c, redisq.QueueConfig{Concurrency: 1, Poll: 20 * time.Millisecond, Logger: quiet})
	if err := pauseQueues(srv.Addr, q); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(ctx, "our-job", scheduler.Class{}); err != nil {
		t.Fatal(err)
	}
	ours, err := rc.HGetAll(ctx, "asynq:{"+queue+"}:t:our-job").Result()
	if err != nil {
		t.Fatal(err)
	}
	asynqs, err := rc.HGetAll(ctx, "asynq:{"+queue+"}:t:"+theirs).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) != len(asynqs) || ours["state"] != asynqs["state"] || ours["pending_since"] == "" {
		t.Fatalf("task hash %v; asynq writes %v", ours, asynqs)
	}
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer in.Close()
	info, err := in.GetTaskInfo(queue, "our-job")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending || info.Type != redisq.TaskType || string(info.Payload) != `{"job":"our-job","priority":"interactive"}` ||
		info.MaxRetry != 2 || info.Retention != 24*time.Hour || info.Timeout != 0 || info.Deadline.Before(time.Now().AddDate(9, 0, 0)) {
		t.Fatalf("asynq sees %+v", info)
	}
	if qs, err := in.Queues(); err != nil || len(qs) != 1 || qs[0] != queue {
		t.Fatalf("asynq's queues: %v %v", qs, err)
	}
	if err := in.DeleteTask(queue, theirs); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer q.Shutdown()
	if err := resumeQueues(srv.Addr, q); err != nil {
		t.Fatal(err)
	}
	if id, err := q.Pop(ctx); err != nil || id != "our-job" {
		t.Fatalf("pop: %q %v", id, err)
	}
	if err := q.Release(ctx, "our-job", scheduler.Class{}, false); err != nil {
		t.Fatal(err)
	}
}

// The minute's reconciliation reads the unqueued marks, the queues' names
// and each queue's archived tasks since its last look: its cost does not
// grow with the queued jobs. It queues a job stored but never pushed (a
// server that stopped in between), and a finished job submitted again
// that was not pushed, and forgets the marks of jobs that ended.
func TestReconcileTouchesOnlyStrays(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q := redisq.NewQueue(c, redisq.QueueConfig{Logger: quiet})
	defer q.Shutdown()
	st := redisq.NewStore(c, redisq.StoreConfig{})
	s := scheduler.New(st, q, scheduler.Config{Admitter: redisq.NewAdmitter(st, q)})
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer in.Close()

	cost := map[int]int64{}
	submitted := 0
	for _, n := range []int{10, 200} {
		for ; submitted < n; submitted++ {
			if _, _, err := s.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 5000+submitted)}); err != nil {
				t.Fatal(err)
			}
		}
		counter := redisq.Count(c)
		if k, err := s.Reconcile(ctx); err != nil || k != 0 {
			t.Fatalf("reconcile over %d queued jobs: %d pushed, %v", n, k, err)
		}
		cost[n] = counter.Commands()
		if trips := counter.RoundTrips(); trips > 3 {
			t.Fatalf("reconcile over %d queued jobs: %d round trips", n, trips)
		}
	}
	// The marks, the queues' names, the two queues' archived tasks.
	if cost[10] != cost[200] || cost[10] > 4 {
		t.Fatalf("reconciling took %d commands over 10 queued jobs, %d over 200; want the same few", cost[10], cost[200])
	}

	// Tasks asynq archived while their jobs are unfinished (a worker that
	// died on a job's last attempt): pushed back, at a cost of the
	// archived ones, not of the queued.
	ids, err := in.ListPendingTasks("proofmill.interactive", asynq.PageSize(3))
	if err != nil || len(ids) != 3 {
		t.Fatalf("pending tasks: %d %v", len(ids), err)
	}
	for _, task := range ids {
		if err := in.ArchiveTask("proofmill.interactive", task.ID); err != nil {
			t.Fatal(err)
		}
	}
	counter := redisq.Count(c)
	if k, err := s.Reconcile(ctx); err != nil || k != 3 {
		t.Fatalf("reconcile over 3 archived tasks: %d pushed, %v; want 3", k, err)
	}
	// Their states in one pipeline, the script's load, their pushes in one.
	if cmds, trips := counter.Commands(), counter.RoundTrips(); cmds > cost[10]+1+2*3 || trips > 6 {
		t.Fatalf("pushing back 3 archived tasks took %d commands, %d round trips", cmds, trips)
	}
	for _, task := range ids {
		if info, err := in.GetTaskInfo("proofmill.interactive", task.ID); err != nil || info.State != asynq.TaskStatePending {
			t.Fatalf("%s after reconciling: %+v %v", task.ID, info, err)
		}
	}

	// A server stopped between storing a job and pushing it.
	old := time.Now().Add(-time.Minute)
	lost := &scheduler.Job{ID: "lost", Circuit: "invoice-consistency/v1", State: scheduler.Queued, Submitted: old, Version: 1}
	if _, created, err := st.Create(ctx, lost); err != nil || !created {
		t.Fatal(created, err)
	}
	fresh := &scheduler.Job{ID: "in-flight", Circuit: "invoice-consistency/v1", State: scheduler.Queued, Submitted: time.Now(), Version: 1}
	if _, created, err := st.Create(ctx, fresh); err != nil || !created {
		t.Fatal(created, err)
	}
	// A finished job submitted again, stopped before its push; and one
	// marked that ended since.
	again := &scheduler.Job{ID: "again", Circuit: "invoice-consistency/v1", State: scheduler.Queued, Submitted: old, Version: 1}
	if _, _, err := st.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(ctx, again.ID, again.Class()); err != nil {
		t.Fatal(err)
	}
	if err := in.DeleteTask("proofmill.interactive", again.ID); err != nil { // it ran; asynq forgot it
		t.Fatal(err)
	}
	for _, state := range []scheduler.State{scheduler.Cancelled, scheduler.Queued} {
		again.State = state
		again.Version++
		if err := st.Update(ctx, again); err != nil {
			t.Fatal(err)
		}
	}
	ended := &scheduler.Job{ID: "ended", Circuit: "invoice-consistency/v1", State: scheduler.Queued, Submitted: old, Version: 1}
	if _, _, err := st.Create(ctx, ended); err != nil {
		t.Fatal(err)
	}
	ended.State, ended.Version = scheduler.Cancelled, 2
	if err := st.Update(ctx, ended); err != nil {
		t.Fatal(err)
	}

	if k, err := s.Reconcile(ctx); err != nil || k != 2 {
		t.Fatalf("reconcile: %d pushed, %v; want 2 (lost, again)", k, err)
	}
	for _, id := range []string{"lost", "again"} {
		if info, err := in.GetTaskInfo("proofmill.interactive", id); err != nil || info.State != asynq.TaskStatePending {
			t.Fatalf("%s after reconciling: %+v %v", id, info, err)
		}
	}
	if _, err := in.GetTaskInfo("proofmill.interactive", "in-flight"); err == nil {
		t.Fatal("a job stored a moment ago was pushed: its submission may still push it")
	}
	if k, err := s.Reconcile(ctx); err != nil || k != 0 {
		t.Fatalf("reconciling again: %d pushed, %v; want none", k, err)
	}
	// The first recovery at start stays complete: every unfinished job,
	// pipelined.
	counter = redisq.Count(c)
	if k, err := s.Recover(ctx); err != nil || k != submitted+3 {
		t.Fatalf("recover: %d, %v; want %d", k, err, submitted+3)
	}
	if trips := counter.RoundTrips(); trips > 6 {
		t.Fatalf("recovering %d jobs took %d round trips", submitted+3, trips)
	}
	if _, err := in.GetTaskInfo("proofmill.interactive", "in-flight"); err != nil {
		t.Fatalf("recover left a stored job out of line: %v", err)
	}
	if n, err := q.Len(ctx, scheduler.Interactive); err != nil || n != submitted+3 {
		t.Fatalf("in line: %d %v; want %d", n, err, submitted+3)
	}
}
