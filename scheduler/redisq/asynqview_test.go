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

// asynqView is what the tests of asynq's view of proofmill's jobs share: a
// real Redis, a consuming queue (one slot, polled every 20 ms), a
// scheduler over it as servers run it (with the Admitter), and asynq's
// Inspector. Everything stops with the test.
type asynqView struct {
	t   *testing.T
	ctx context.Context
	q   *redisq.Queue
	st  *redisq.Store
	s   *scheduler.Scheduler
	in  *asynq.Inspector
}

// newAsynqView starts one; qc gives the tenants, the attempts and the
// retention (the store's and the scheduler's too).
func newAsynqView(t *testing.T, qc redisq.QueueConfig) *asynqView {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	qc.Concurrency, qc.Poll, qc.Logger = 1, 20*time.Millisecond, quiet
	q := redisq.NewQueue(c, qc)
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Shutdown)
	st := redisq.NewStore(c, redisq.StoreConfig{Retention: qc.Retention})
	s := scheduler.New(st, q, scheduler.Config{MaxAttempts: qc.MaxAttempts, Retention: qc.Retention, Logger: quiet, Admitter: redisq.NewAdmitter(st, q)})
	t.Cleanup(func() { s.Close() })
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	t.Cleanup(func() { in.Close() })
	return &asynqView{t: t, ctx: ctx, q: q, st: st, s: s, in: in}
}

// submit submits the n-th distinct invoice with r's class and deadline.
func (v *asynqView) submit(n int, r scheduler.Request) *scheduler.Job {
	v.t.Helper()
	r.Circuit, r.Input = "invoice-consistency/v1", conformance.Input(v.t, n)
	j, _, err := v.s.Submit(v.ctx, r)
	if err != nil {
		v.t.Fatal(err)
	}
	return j
}

// next is the scheduler's Next, which must give the job want.
func (v *asynqView) next(want string) *scheduler.Job {
	v.t.Helper()
	j, err := v.s.Next(v.ctx)
	if err != nil || j.ID != want {
		v.t.Fatalf("next: %v %v; want %s", j, err, want)
	}
	return j
}

// succeed and fail end the attempt j is on, as a worker would.
func (v *asynqView) succeed(j *scheduler.Job) {
	v.t.Helper()
	v.finish(j, scheduler.Outcome{Attempt: j.Attempts, Result: []byte("proof")})
}

func (v *asynqView) fail(j *scheduler.Job) {
	v.t.Helper()
	v.finish(j, scheduler.Outcome{Attempt: j.Attempts, Err: errcode.Errorf(errcode.DeviceFailure, "the GPU fell off the bus")})
}

func (v *asynqView) finish(j *scheduler.Job, o scheduler.Outcome) {
	v.t.Helper()
	if err := v.s.Finish(v.ctx, j.ID, o); err != nil {
		v.t.Fatal(err)
	}
}

// task waits for asynq to show task id in queue in state.
func (v *asynqView) task(queue, id string, state asynq.TaskState) *asynq.TaskInfo {
	v.t.Helper()
	var info *asynq.TaskInfo
	for v.ctx.Err() == nil {
		var err error
		if info, err = v.in.GetTaskInfo(queue, id); err == nil && info.State == state {
			return info
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.t.Fatalf("task %s in %s: %+v, not %v", id, queue, info, state)
	return nil
}
