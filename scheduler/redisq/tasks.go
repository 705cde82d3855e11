package redisq

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/proofmill/proofmill/scheduler"
)

// Tasks are put in line by proofmill's own scripts, writing what asynq's
// Client.Enqueue writes (asynq v0.26, internal/rdb enqueueCmd): the task
// hash asynq:{QUEUE}:t:ID (msg, state pending, pending_since), the ID at
// the head of the pending list asynq:{QUEUE}:pending, and the queue's name
// in asynq:queues. So a job's record and its task go in one script on one
// Redis server, and a push clears the job's mark in the same script.
// TestTaskMessageIsAsynqs holds the message byte for byte to asynq's, and
// asynq's Inspector and server to reading it.
const (
	asynqQueues = "asynq:queues" // set: every queue's name (asynq's AllQueues)
	// noTaskTimeout: a proof runs until it is done (asynq's 30-minute
	// default would cancel a long one and run it again); the lease,
	// renewed every few seconds while the worker lives, is what detects a
	// dead worker. asynq then wants a deadline: ten years.
	taskDeadline = 10 * 365 * 24 * time.Hour
)

func asynqTaskKey(queue, id string) string { return "asynq:{" + queue + "}:t:" + id }
func asynqPendingKey(queue string) string  { return "asynq:{" + queue + "}:pending" }

// taskMessage is asynq's TaskMessage protobuf (internal/proto/asynq.proto)
// for a job's task, encoded as proto.Marshal does: fields in number order,
// zero values left out. Fields: 1 type, 2 payload, 3 id, 4 queue, 5 retry,
// 9 deadline (Unix s); timeout (8) is 0, none.
func taskMessage(id, queue string, retry int, deadline time.Time) []byte {
	pl, _ := json.Marshal(payload{Job: id})
	b := make([]byte, 0, 64+len(pl)+2*len(id)+len(queue))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, TaskType)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, pl)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, id)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, queue)
	if retry != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(retry))))
	}
	b = protowire.AppendTag(b, 9, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(deadline.Unix()))
	return b
}

// enqueueLua is asynq's enqueue in Lua: the task at KEYS[k] (its pending
// list at KEYS[k+1], the set of queues at KEYS[k+2] if given), message,
// time and queue name at ARGV[a], ARGV[a+1], ARGV[a+2], the ID in id. A
// task already there (in line, held or archived) is left as it is.
func enqueueLua(k, a int, id string) string {
	key := func(i int) string { return "KEYS[" + strconv.Itoa(k+i) + "]" }
	arg := func(i int) string { return "ARGV[" + strconv.Itoa(a+i) + "]" }
	return `
if redis.call('EXISTS', ` + key(0) + `) == 0 then
  redis.call('HSET', ` + key(0) + `, 'msg', ` + arg(0) + `, 'state', 'pending', 'pending_since', ` + arg(1) + `)
  redis.call('LPUSH', ` + key(1) + `, ` + id + `)
end
if ` + key(2) + ` then redis.call('SADD', ` + key(2) + `, ` + arg(2) + `) end`
}

// pushScript: KEYS task, pending list, and on one server the set of
// queues and the unqueued marks; ARGV message, time (Unix ns), queue name,
// id. It puts the task in line unless it is there, and clears the job's
// mark.
var pushScript = redis.NewScript(enqueueLua(1, 1, "ARGV[4]") + `
if KEYS[4] then redis.call('ZREM', KEYS[4], ARGV[4]) end
return 1`)

// taskArgs are a task's keys and arguments, for pushScript and
// createScript.
type taskArgs struct {
	keys []string
	args []any
}

func (q *Queue) task(id string, c scheduler.Class) *taskArgs {
	name := q.queueOf(c)
	now := time.Now()
	t := &taskArgs{keys: []string{asynqTaskKey(name, id), asynqPendingKey(name)},
		args: []any{taskMessage(id, name, q.cfg.MaxRetry, now.Add(taskDeadline)), now.UnixNano(), name}}
	if !q.cluster { // on a Cluster it lives on another slot
		t.keys = append(t.keys, asynqQueues)
	}
	return t
}

// published notes a queue in asynq:queues, once per process, on a
// Cluster (where the scripts cannot reach that key), as asynq does.
func (q *Queue) published(ctx context.Context, name string) error {
	if !q.cluster {
		return nil
	}
	if _, ok := q.queues.Load(name); ok {
		return nil
	}
	if err := q.rc.SAdd(ctx, asynqQueues, name).Err(); err != nil {
		return err
	}
	q.queues.Store(name, true)
	return nil
}

// Push queues id in its class's queue. The task ID is the job ID: a second
// push while the task is in line or held is absorbed. It clears the job's
// mark as not yet in line.
func (q *Queue) Push(ctx context.Context, id string, c scheduler.Class) error {
	t := q.task(id, c)
	if err := q.published(ctx, q.queueOf(c)); err != nil {
		return fmt.Errorf("redisq: push %s: %w", id, unavailable(err))
	}
	if !q.cluster {
		t.keys = append(t.keys, unqueuedKey)
	}
	if err := pushScript.Run(ctx, q.rc, t.keys, append(t.args, id)...).Err(); err != nil {
		return fmt.Errorf("redisq: push %s: %w", id, unavailable(err))
	}
	if q.cluster {
		if err := q.rc.ZRem(ctx, unqueuedKey, id).Err(); err != nil {
			return fmt.Errorf("redisq: push %s: clearing its mark: %w", id, unavailable(err))
		}
	}
	return nil
}

// pushBatch is how many pushes PushAll pipelines at once.
const pushBatch = 1000

// PushAll pushes jobs as Push does, pipelined: a round trip per thousand.
func (q *Queue) PushAll(ctx context.Context, jobs []*scheduler.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	if err := pushScript.Load(ctx, q.rc).Err(); err != nil {
		return fmt.Errorf("redisq: push: %w", unavailable(err))
	}
	for start := 0; start < len(jobs); start += pushBatch {
		batch := jobs[start:min(start+pushBatch, len(jobs))]
		pipe := q.rc.Pipeline()
		ids := make([]any, len(batch))
		for i, j := range batch {
			if err := q.published(ctx, q.queueOf(j.Class())); err != nil {
				return fmt.Errorf("redisq: push %s: %w", j.ID, unavailable(err))
			}
			t := q.task(j.ID, j.Class())
			if !q.cluster {
				t.keys = append(t.keys, unqueuedKey)
			}
			pushScript.EvalSha(ctx, pipe, t.keys, append(t.args, j.ID)...)
			ids[i] = j.ID
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("redisq: push %d jobs: %w", len(batch), unavailable(err))
		}
		if q.cluster {
			if err := q.rc.ZRem(ctx, unqueuedKey, ids...).Err(); err != nil {
				return fmt.Errorf("redisq: push: clearing marks: %w", unavailable(err))
			}
		}
	}
	return nil
}

// Strays lists the jobs marked before t as stored but not yet seen in
// line, and drops the marks of jobs that ended or are gone.
func (s *Store) Strays(ctx context.Context, before time.Time) ([]*scheduler.Job, error) {
	ids, err := s.client.ZRangeByScore(ctx, unqueuedKey, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(before.UnixNano(), 10)}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: strays: %w", unavailable(err))
	}
	jobs, ended, err := s.states(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("redisq: strays: %w", err)
	}
	if len(ended) > 0 {
		if err := s.client.ZRem(ctx, unqueuedKey, ended...).Err(); err != nil {
			return nil, fmt.Errorf("redisq: strays: %w", unavailable(err))
		}
	}
	return jobs, nil
}

// Admitter is a Store and the Queue over the same Redis together: a
// scheduler.Admitter. On one Redis server (or Sentinel's master) a new job
// is checked, stored and put in line by one script; on a Cluster, whose
// scripts reach one slot only, the job is stored (marked not yet in line),
// then pushed, then unmarked; with Store's MinReplicas, the push waits for
// the replicas' acknowledgement of the job, as it does without.
type Admitter struct {
	store *Store
	queue *Queue
}

// NewAdmitter pairs a Store and a Queue made over the same Conn.
func NewAdmitter(s *Store, q *Queue) *Admitter { return &Admitter{store: s, queue: q} }

// peekScript: KEYS the job, the queued sets of each priority, the
// tenant's unfinished set. Returns the job's data (false if none), the
// jobs waiting at each priority and the tenant's unfinished jobs.
var peekScript = redis.NewScript(`
return {redis.call('HGET', KEYS[1], 'd'), redis.call('SCARD', KEYS[2]), redis.call('SCARD', KEYS[3]), redis.call('ZCARD', KEYS[4])}`)

// Peek reads a job, the jobs waiting and a tenant's unfinished jobs in one
// script (every key is on the jobs' slot).
func (a *Admitter) Peek(ctx context.Context, id, tenant string) (*scheduler.Job, map[scheduler.Priority]int, int, error) {
	keys := []string{jobPrefix + id}
	for _, p := range scheduler.Priorities {
		keys = append(keys, queuedPrefix+p.String())
	}
	res, err := peekScript.Run(ctx, a.store.client, append(keys, tenantPrefix+tenant)).Slice()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("redisq: peek %s: %w", id, unavailable(err))
	}
	if len(res) != 2+len(scheduler.Priorities) {
		return nil, nil, 0, fmt.Errorf("redisq: peek %s: unexpected reply %v", id, res)
	}
	waiting := make(map[scheduler.Priority]int, len(scheduler.Priorities))
	for i, p := range scheduler.Priorities {
		n, _ := res[1+i].(int64)
		waiting[p] = int(n)
	}
	unfinished, _ := res[len(res)-1].(int64)
	if res[0] == nil {
		return nil, waiting, int(unfinished), nil
	}
	j, err := decode(res[0])
	if err != nil {
		return nil, nil, 0, fmt.Errorf("redisq: peek %s: %w", id, err)
	}
	return j, waiting, int(unfinished), nil
}

// CreateQueued stores and queues a new job, or returns the stored one.
func (a *Admitter) CreateQueued(ctx context.Context, job *scheduler.Job, lim scheduler.Limits) (*scheduler.Job, bool, map[scheduler.Priority]int, error) {
	var task *taskArgs
	if !a.queue.cluster && a.store.minReplicas <= 0 {
		task = a.queue.task(job.ID, job.Class())
	}
	stored, created, waiting, err := a.store.create(ctx, job, lim, task)
	if err != nil || !created || task != nil {
		return stored, created, waiting, err
	}
	// Stored and marked: a stop here leaves the job to the reconciliation.
	if err := a.queue.Push(ctx, job.ID, job.Class()); err != nil {
		return nil, false, nil, err
	}
	return stored, true, waiting, nil
}
