package redisq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// A task with a payload that is not ours is archived with its reason, not
// retried, and the consumer goes on with the next task.
func TestMalformedTaskIsArchived(t *testing.T) {
	srv := redistest.Start(t)
	b := open(t, srv.Addr)
	raw := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr})
	defer raw.Close()
	queue := redisq.QueueName(scheduler.Class{Priority: scheduler.Interactive})
	for id, payload := range map[string]string{"garbage": "{not json", "mismatch": `{"job":"someone-else"}`} {
		if _, err := raw.Enqueue(asynq.NewTask(redisq.TaskType, []byte(payload)), asynq.TaskID(id), asynq.Queue(queue)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Queue.Push(context.Background(), "good", scheduler.Class{Priority: scheduler.Interactive}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if id, err := b.Queue.Pop(ctx); err != nil || id != "good" {
		t.Fatalf("pop: %q %v", id, err)
	}
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer inspector.Close()
	for _, id := range []string{"garbage", "mismatch"} {
		var info *asynq.TaskInfo
		for ctx.Err() == nil {
			var err error
			if info, err = inspector.GetTaskInfo(queue, id); err == nil && info.State == asynq.TaskStateArchived {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if info == nil || info.State != asynq.TaskStateArchived || info.Retried != 0 || !strings.Contains(info.LastErr, "malformed") {
			t.Fatalf("task %s: %+v", id, info)
		}
	}
}

// Finished jobs expire after the retention period; unfinished ones stay.
func TestFinishedJobsExpire(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	s := redisq.NewStore(c, redisq.StoreConfig{Retention: 200 * time.Millisecond})
	ctx := context.Background()
	for _, id := range []string{"done", "waiting"} {
		if _, _, err := s.Create(ctx, &scheduler.Job{ID: id, State: scheduler.Queued, Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, &scheduler.Job{ID: "done", State: scheduler.Succeeded, Version: 2}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := s.Get(ctx, "done"); err == nil {
		t.Fatal("a finished job outlived its retention")
	}
	if _, err := s.Get(ctx, "waiting"); err != nil {
		t.Fatalf("an unfinished job expired: %v", err)
	}
}
