package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
func asynqArchivedKey(queue string) string { return "asynq:{" + queue + "}:archived" }
func asynqCompletedKey(queue string) string {
	return "asynq:{" + queue + "}:completed"
}

// taskOptions are the asynq options of a job's task: MaxRetry (the
// attempts after the first) and Retention (how long asynq keeps it
// completed).
type taskOptions struct {
	retry     int
	retention time.Duration
	deadline  time.Time
}

// taskMessage is asynq's TaskMessage protobuf (internal/proto/asynq.proto)
// for a job's task, encoded as proto.Marshal does: fields in number order,
// zero values left out. Fields: 1 type, 2 payload, 3 id, 4 queue, 5 retry,
// 9 deadline (Unix s), 12 retention (s); timeout (8) is 0, none.
func taskMessage(pl payload, queue string, o taskOptions) []byte {
	js, _ := json.Marshal(pl)
	b := make([]byte, 0, 80+len(js)+2*len(pl.Job)+len(queue))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, TaskType)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, js)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, pl.Job)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, queue)
	if o.retry != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(o.retry))))
	}
	b = protowire.AppendTag(b, 9, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(o.deadline.Unix()))
	if s := int64(o.retention.Seconds()); s != 0 {
		b = protowire.AppendTag(b, 12, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s))
	}
	return b
}

// withError is msg (a TaskMessage as Redis holds it) with its last error
// (field 7) and the time of it (11, Unix s) set, as asynq's archive writes
// them; the other fields are kept as they are.
func withError(msg []byte, reason string, at time.Time) ([]byte, error) {
	out := make([]byte, 0, len(msg)+len(reason)+16)
	for rest := msg; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num != 7 && num != 11 {
			out = append(out, rest[:n+m]...)
		}
		rest = rest[n+m:]
	}
	out = protowire.AppendTag(out, 7, protowire.BytesType)
	out = protowire.AppendString(out, reason)
	out = protowire.AppendTag(out, 11, protowire.VarintType)
	return protowire.AppendVarint(out, uint64(at.Unix())), nil
}

// enqueueLua is asynq's enqueue in Lua: the task at KEYS[k] (its pending
// list at KEYS[k+1], its queue's archived and completed sets at KEYS[k+2]
// and KEYS[k+3], the set of queues at KEYS[k+4] if given), message, time
// and queue name at ARGV[a], ARGV[a+1], ARGV[a+2], the ID in id. A task
// in line or held is left as it is; one archived or completed (a job that
// ended, run again under its ID) is replaced.
func enqueueLua(k, a int, id string) string {
	key := func(i int) string { return "KEYS[" + strconv.Itoa(k+i) + "]" }
	arg := func(i int) string { return "ARGV[" + strconv.Itoa(a+i) + "]" }
	return `
local st = redis.call('HGET', ` + key(0) + `, 'state')
if st == 'archived' or st == 'completed' then
  redis.call('ZREM', st == 'archived' and ` + key(2) + ` or ` + key(3) + `, ` + id + `)
  redis.call('DEL', ` + key(0) + `)
  st = false
end
if not st and redis.call('EXISTS', ` + key(0) + `) == 0 then
  redis.call('HSET', ` + key(0) + `, 'msg', ` + arg(0) + `, 'state', 'pending', 'pending_since', ` + arg(1) + `)
  redis.call('LPUSH', ` + key(1) + `, ` + id + `)
end
if ` + key(4) + ` then redis.call('SADD', ` + key(4) + `, ` + arg(2) + `) end`
}

// pushScript: KEYS task, pending list, archived and completed sets, and
// on one server the set of queues and the unqueued marks; ARGV message,
// time (Unix ns), queue name, id. It puts the task in line unless it is
// there, and clears the job's mark.
var pushScript = redis.NewScript(enqueueLua(1, 1, "ARGV[4]") + `
if KEYS[6] then redis.call('ZREM', KEYS[6], ARGV[4]) end
return 1`)

// taskArgs are a task's keys and arguments, for pushScript and
// createScript.
type taskArgs struct {
	keys []string
	args []any
}

// jobPayload is the payload of a job's task; circuit is "" where the
// caller knows only the job's ID and class.
func jobPayload(id, circuit string, c scheduler.Class) payload {
	return payload{Job: id, Circuit: circuit, Tenant: c.Tenant, Priority: c.Priority.String()}
}

func (q *Queue) task(pl payload, c scheduler.Class) *taskArgs {
	name := q.queueOf(c)
	now := time.Now()
	o := taskOptions{retry: q.cfg.MaxAttempts - 1, retention: q.cfg.Retention, deadline: now.Add(taskDeadline)}
	t := &taskArgs{keys: []string{asynqTaskKey(name, pl.Job), asynqPendingKey(name), asynqArchivedKey(name), asynqCompletedKey(name)},
		args: []any{taskMessage(pl, name, o), now.UnixNano(), name}}
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
	return q.push(ctx, jobPayload(id, "", c), c)
}

// PushJob is Push, given the job: its task's payload names its circuit.
func (q *Queue) PushJob(ctx context.Context, j *scheduler.Job) error {
	return q.push(ctx, jobPayload(j.ID, j.Circuit, j.Class()), j.Class())
}

func (q *Queue) push(ctx context.Context, pl payload, c scheduler.Class) error {
	id := pl.Job
	t := q.task(pl, c)
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
			t := q.task(jobPayload(j.ID, j.Circuit, j.Class()), j.Class())
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

// The Queue tells the reconciliation which jobs' tasks asynq archived
// while they were unfinished: once a task's Retried reaches its MaxRetry,
// asynq archives it on any error, a lapsed lease (a worker that died on
// the job's last attempt) or a hand-back (a failing store, a shutdown)
// included, and Recover, at a node's start, is otherwise the only one to
// put it back.
var _ scheduler.ArchivingQueue = (*Queue)(nil)

// Archived lists the unfinished jobs whose tasks asynq archived at or
// after since, in every proofmill queue asynq knows (asynq:queues) and
// every one this process serves: a round trip for the queues' names, one
// for the archived sets' ranges by score (asynq scores a task by its
// archive time, Unix s), and, where any were archived, one per thousand
// for their jobs' states. Nothing in it reads the tasks in line.
func (q *Queue) Archived(ctx context.Context, since time.Time) ([]*scheduler.Job, error) {
	known, err := q.rc.SMembers(ctx, asynqQueues).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: archived tasks: %w", unavailable(err))
	}
	var names []string
	for _, p := range scheduler.Priorities {
		names = append(names, q.names(p)...)
	}
	for _, n := range known {
		if strings.HasPrefix(n, "proofmill.") && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	pipe := q.rc.Pipeline()
	ranges := make([]*redis.StringSliceCmd, len(names))
	by := &redis.ZRangeBy{Min: strconv.FormatInt(since.Unix(), 10), Max: "+inf"}
	for i, n := range names {
		ranges[i] = pipe.ZRangeByScore(ctx, asynqArchivedKey(n), by)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisq: archived tasks: %w", unavailable(err))
	}
	var ids []string
	seen := map[string]bool{}
	for _, r := range ranges {
		for _, id := range r.Val() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	jobs, _, err := jobStates(ctx, q.rc, ids)
	if err != nil {
		return nil, fmt.Errorf("redisq: archived tasks: %w", err)
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
		task = a.queue.task(jobPayload(job.ID, job.Circuit, job.Class()), job.Class())
	}
	stored, created, waiting, err := a.store.create(ctx, job, lim, task)
	if err != nil || !created || task != nil {
		return stored, created, waiting, err
	}
	// Stored and marked: a stop here leaves the job to the reconciliation.
	if err := a.queue.PushJob(ctx, job); err != nil {
		return nil, false, nil, err
	}
	return stored, true, waiting, nil
}

// archiveScript is asynq's archive of a failed task (internal/rdb
// archiveCmd) for one that waits in line, pending, due for retry or
// scheduled, rather than held: KEYS the task, its pending list, retry,
// scheduled and archived sets, the day's processed and failed counts and
// the totals; ARGV id, the message as read, the message with its error,
// now (Unix s), the archive's cutoff (Unix s), its size bound, the
// counts' expiry (Unix s). A task held, or changed since it was read, is
// left to its worker, which finds the job ended and archives it.
var archiveScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if redis.call('HGET', KEYS[1], 'msg') ~= ARGV[2] then return 0 end
if st == 'pending' then redis.call('LREM', KEYS[2], 0, ARGV[1])
elseif st == 'retry' then redis.call('ZREM', KEYS[3], ARGV[1])
elseif st == 'scheduled' then redis.call('ZREM', KEYS[4], ARGV[1])
else return 0 end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], '-inf', ARGV[5], 'BYSCORE')) do
  redis.call('DEL', prefix .. id)
  redis.call('ZREM', KEYS[5], id)
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -tonumber(ARGV[6]))) do
  redis.call('DEL', prefix .. id)
  redis.call('ZREM', KEYS[5], id)
end
redis.call('HSET', KEYS[1], 'msg', ARGV[3], 'state', 'archived')
for i = 6, 7 do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIREAT', KEYS[i], ARGV[7]) end
end
redis.call('INCR', KEYS[8])
redis.call('INCR', KEYS[9])
return 1`)

// asynq's bounds on archived tasks and its statistics (internal/rdb).
const (
	archiveSize = 10000
	archiveDays = 90
	statsTTL    = 90 * 24 * time.Hour
)

// archive ends the task of a job that failed while in line as asynq ends
// a failed one: archived, with reason as its last error, counted processed
// and failed. A task not in line (held, gone, ended) is left as it is.
func (q *Queue) archive(ctx context.Context, queue, id, reason string) error {
	key := asynqTaskKey(queue, id)
	msg, err := q.rc.HGet(ctx, key, "msg").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redisq: archive %s: %w", id, unavailable(err))
	}
	now := time.Now()
	failed, err := withError(msg, reason, now)
	if err != nil {
		return fmt.Errorf("redisq: archive %s: its task's message: %w", id, err)
	}
	day := now.UTC().Format("2006-01-02")
	prefix := "asynq:{" + queue + "}:"
	keys := []string{key, asynqPendingKey(queue), prefix + "retry", prefix + "scheduled", asynqArchivedKey(queue),
		prefix + "processed:" + day, prefix + "failed:" + day, prefix + "processed", prefix + "failed"}
	if err := archiveScript.Run(ctx, q.rc, keys, id, msg, failed, now.Unix(), now.AddDate(0, 0, -archiveDays).Unix(),
		archiveSize, now.Add(statsTTL).Unix()).Err(); err != nil {
		return fmt.Errorf("redisq: archive %s: %w", id, unavailable(err))
	}
	return nil
}
