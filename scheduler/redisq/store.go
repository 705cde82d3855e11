package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// Keys share the hash tag {j}, so the scripts that touch a job and the
// index of unfinished jobs stay on one Cluster slot.
const (
	jobPrefix     = "proofmill:{j}:job:"
	unfinishedKey = "proofmill:{j}:unfinished"         // sorted set: id by submission time
	tenantPrefix  = "proofmill:{j}:unfinished:tenant:" // the same, one set per tenant
	queuedPrefix  = "proofmill:{j}:queued:"            // set: ids of jobs waiting, one per priority
	// unqueuedKey is a sorted set of the jobs stored (or started afresh)
	// as queued whose push to asynq has not been seen, by when: the
	// scripts that store a job without pushing it add it, a push takes it
	// out, and so does the job's end. The periodic reconciliation pushes
	// what it holds, and so costs nothing per queued job.
	unqueuedKey = "proofmill:{j}:unqueued"
	changedChan = "proofmill:changed"
)

// jobKeys are the keys a job's scripts touch: the job, the unfinished
// index, its tenant's, the queued sets of each priority (KEYS[4] and
// KEYS[5]), and the set of jobs not yet seen in line (KEYS[6]).
func jobKeys(j *scheduler.Job) []string {
	keys := []string{jobPrefix + j.ID, unfinishedKey, tenantPrefix + j.Tenant}
	for _, p := range scheduler.Priorities {
		keys = append(keys, queuedPrefix+p.String())
	}
	return append(keys, unqueuedKey)
}

// StoreConfig tunes a Store. The zero value is usable.
type StoreConfig struct {
	Retention time.Duration // how long finished jobs (and proofs) are kept; 0 means 24h
	// MinReplicas is how many replicas must have a submission (a created
	// job, or one put back in line) before Create or Update returns, as
	// Redis's WAIT counts them; 0 waits for none.
	MinReplicas int
	// ReplicaTimeout bounds that wait; 0 means 1s. Fewer acknowledgements
	// in time is an error wrapping ErrTooFewReplicas (Unavailable).
	ReplicaTimeout time.Duration
	// MaxQueued bounds the jobs waiting at each priority, checked in the
	// same script that creates a job, so servers sharing Redis never pass
	// it together; 0: no bound here.
	MaxQueued int
}

// Store is a scheduler.Store on Redis.
type Store struct {
	client         redis.UniversalClient
	retention      time.Duration
	minReplicas    int
	replicaTimeout time.Duration
	maxQueued      int
}

// NewStore returns a Store over c.
func NewStore(c *Conn, cfg StoreConfig) *Store {
	if cfg.Retention == 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.ReplicaTimeout == 0 {
		cfg.ReplicaTimeout = time.Second
	}
	return &Store{client: c.client, retention: cfg.Retention, minReplicas: cfg.MinReplicas, replicaTimeout: cfg.ReplicaTimeout,
		maxQueued: cfg.MaxQueued}
}

// A job is a hash: v (version), s (state), p (priority) and t (tenant), for
// reads that need no more, and d (the job as JSON).
//
// createScript: KEYS jobKeys, then (to put the job in line in the same
// step) asynq's task key, pending list and set of queues; ARGV version,
// data, id, score, channel, state, priority, tenant, max queued (0: none),
// tenant's max unfinished (0: none), then the task message, the time
// (Unix ns) and the queue's name. Returns the stored data if the job
// exists; an error QUEUEFULL if its priority's line is full, TENANTQUOTA
// if its tenant's quota is; else the jobs waiting at each priority before
// it. Without the task's keys a queued job is marked in KEYS[6], for
// whoever pushes it (or the reconciliation) to clear.
var createScript = redis.NewScript(`
local existing = redis.call('HGET', KEYS[1], 'd')
if existing then return existing end
local waiting = {redis.call('SCARD', KEYS[4]), redis.call('SCARD', KEYS[5])}
if ARGV[6] == 'queued' and tonumber(ARGV[9]) > 0 and waiting[1 + tonumber(ARGV[7])] >= tonumber(ARGV[9]) then
  return redis.error_reply('QUEUEFULL')
end
if tonumber(ARGV[10]) > 0 and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[10]) then
  return redis.error_reply('TENANTQUOTA')
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2], 's', ARGV[6], 'p', ARGV[7], 't', ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
if ARGV[6] == 'queued' then
  redis.call('SADD', KEYS[4 + tonumber(ARGV[7])], ARGV[3])
  if #KEYS >= 11 then` + enqueueLua(7, 11, "ARGV[3]") + `
  else
    redis.call('ZADD', KEYS[6], ARGV[4], ARGV[3])
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[3])
return waiting`)

// updateScript: KEYS jobKeys; ARGV expected version, version, data, id,
// terminal (1/0), retention ms, channel, score, state, priority, tenant.
// Returns 1 when written, 0 on a version conflict, -1 when the job is
// gone. With KEYS[7] (a usage hash) and KEYS[8] (usageDaysKey), ARGV[12]
// to ARGV[15] are the day's member in KEYS[8], its score, the hash's
// expiry (Unix ms) and the score before which days are dropped, and
// field-increment pairs follow: the usage is added in the same step.
//
// A job that ended and is queued again (a resubmission) is marked in
// KEYS[6] until it is pushed; one that ends is cleared from it.
var updateScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
local was = redis.call('HGET', KEYS[1], 's')
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 's', ARGV[9], 'p', ARGV[10], 't', ARGV[11])
redis.call('SREM', KEYS[4], ARGV[4])
redis.call('SREM', KEYS[5], ARGV[4])
if ARGV[9] == 'queued' then
  redis.call('SADD', KEYS[4 + tonumber(ARGV[10])], ARGV[4])
  if was == 'succeeded' or was == 'failed' or was == 'cancelled' then redis.call('ZADD', KEYS[6], ARGV[8], ARGV[4]) end
end
if ARGV[5] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('ZREM', KEYS[3], ARGV[4])
  redis.call('ZREM', KEYS[6], ARGV[4])
else
  redis.call('PERSIST', KEYS[1])
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[4])
end
if #KEYS >= 8 then
  for i = 16, #ARGV, 2 do redis.call('HINCRBY', KEYS[7], ARGV[i], ARGV[i + 1]) end
  redis.call('PEXPIREAT', KEYS[7], ARGV[14])
  redis.call('ZADD', KEYS[8], ARGV[13], ARGV[12])
  redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', '(' .. ARGV[15])
end
redis.call('PUBLISH', ARGV[7], ARGV[4])
return 1`)

// Create stores job; a queued job is marked not yet in line until a Push
// (or the reconciliation's) takes it out.
func (s *Store) Create(ctx context.Context, job *scheduler.Job) (*scheduler.Job, bool, error) {
	existing, created, _, err := s.create(ctx, job, scheduler.Limits{}, nil)
	if err != nil {
		return nil, false, err
	}
	return existing, created, nil
}

// create runs createScript: with task, the job also goes in line, in the
// same script. lim adds bounds to the store's own.
func (s *Store) create(ctx context.Context, job *scheduler.Job, lim scheduler.Limits, task *taskArgs) (*scheduler.Job, bool, map[scheduler.Priority]int, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return nil, false, nil, fmt.Errorf("redisq: create %s: %w", job.ID, err)
	}
	maxQueued := s.maxQueued
	if lim.MaxQueued > 0 && (maxQueued == 0 || lim.MaxQueued < maxQueued) {
		maxQueued = lim.MaxQueued
	}
	keys := jobKeys(job)
	args := []any{job.Version, data, job.ID, job.Submitted.UnixNano(), changedChan, string(job.State), int(job.Priority), job.Tenant,
		maxQueued, lim.TenantMax}
	if task != nil {
		keys = append(keys, task.keys...)
		args = append(args, task.args...)
	}
	res, err := createScript.Run(ctx, s.client, keys, args...).Result()
	switch {
	case err != nil && strings.Contains(err.Error(), "QUEUEFULL"):
		return nil, false, nil, fmt.Errorf("redisq: create %s: %w: %d %s jobs waiting", job.ID, scheduler.ErrQueueFull, maxQueued, job.Priority)
	case err != nil && strings.Contains(err.Error(), "TENANTQUOTA"):
		return nil, false, nil, fmt.Errorf("redisq: create %s: tenant %s: %w: %d unfinished jobs", job.ID, job.Tenant, scheduler.ErrTenantQuota, lim.TenantMax)
	case err != nil:
		return nil, false, nil, fmt.Errorf("redisq: create %s: %w", job.ID, unavailable(err))
	}
	if counts, ok := res.([]any); ok {
		waiting := map[scheduler.Priority]int{}
		for i, p := range scheduler.Priorities {
			if i < len(counts) {
				n, _ := counts[i].(int64)
				waiting[p] = int(n)
			}
		}
		if err := s.replicated(ctx, job.ID); err != nil {
			return nil, false, nil, fmt.Errorf("redisq: create %s: %w", job.ID, s.uncreate(ctx, job, err))
		}
		return job, true, waiting, nil
	}
	existing, err := decode(res)
	if err != nil {
		return nil, false, nil, fmt.Errorf("redisq: create %s: %w", job.ID, err)
	}
	return existing, false, nil, nil
}

func (s *Store) Get(ctx context.Context, id string) (*scheduler.Job, error) {
	res, err := s.client.HGet(ctx, jobPrefix+id, "d").Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("redisq: get %s: %w", id, scheduler.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("redisq: get %s: %w", id, unavailable(err))
	}
	j, err := decode(res)
	if err != nil {
		return nil, fmt.Errorf("redisq: get %s: %w", id, err)
	}
	return j, nil
}

func (s *Store) Update(ctx context.Context, job *scheduler.Job) error { return s.update(ctx, job, nil) }

// UpdateCounting is Update, adding u to its usage tally in the same
// script (see usage.go).
func (s *Store) UpdateCounting(ctx context.Context, job *scheduler.Job, u scheduler.Usage) error {
	return s.update(ctx, job, &u)
}

// update runs updateScript; with u, adding it to usage.
func (s *Store) update(ctx context.Context, job *scheduler.Job, u *scheduler.Usage) error {
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("redisq: update %s: %w", job.ID, err)
	}
	terminal := 0
	if job.State.Terminal() {
		terminal = 1
	}
	keys, args := jobKeys(job), []any{job.Version - 1, job.Version, data, job.ID, terminal, s.retention.Milliseconds(), changedChan,
		job.Submitted.UnixNano(), string(job.State), int(job.Priority), job.Tenant}
	if u != nil {
		k, a, err := usageArgs(*u)
		if err != nil {
			return fmt.Errorf("redisq: update %s: %w", job.ID, err)
		}
		keys, args = append(keys, k...), append(args, a...)
	}
	n, err := updateScript.Run(ctx, s.client, keys, args...).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisq: update %s: %w", job.ID, unavailable(err))
	case n == 0:
		return fmt.Errorf("redisq: update %s: %w", job.ID, scheduler.ErrConflict)
	case n < 0:
		return fmt.Errorf("redisq: update %s: %w", job.ID, scheduler.ErrNotFound)
	}
	if job.State == scheduler.Queued { // a resubmission, or a job put back in line
		if err := s.replicated(ctx, job.ID); err != nil {
			return fmt.Errorf("redisq: update %s: %w", job.ID, err)
		}
	}
	return nil
}

// CountUnfinished counts a tenant's queued and running jobs.
func (s *Store) CountUnfinished(ctx context.Context, tenant string) (int, error) {
	n, err := s.client.ZCard(ctx, tenantPrefix+tenant).Result()
	if err != nil {
		return 0, fmt.Errorf("redisq: count unfinished of tenant %q: %w", tenant, unavailable(err))
	}
	return int(n), nil
}

// CountQueued counts the jobs waiting at each priority, from the sets
// the scripts keep with each job's state.
func (s *Store) CountQueued(ctx context.Context) (map[scheduler.Priority]int, error) {
	pipe := s.client.Pipeline()
	cmds := map[scheduler.Priority]*redis.IntCmd{}
	for _, p := range scheduler.Priorities {
		cmds[p] = pipe.SCard(ctx, queuedPrefix+p.String())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// Not "job store unavailable": say it is the queue's length check.
		return nil, errcode.E("", errcode.Unavailable, fmt.Errorf("redisq: queue length check failed: could not count the jobs waiting in the interactive and batch queues (%s*): %w", queuedPrefix, err))
	}
	out := make(map[scheduler.Priority]int, len(cmds))
	for p, c := range cmds {
		out[p] = int(c.Val())
	}
	return out, nil
}

// Unfinished reads the index of unfinished jobs, oldest first. It reads
// only each job's ID, state, priority and tenant (what Recover needs), not
// its input: servers call it every minute.
func (s *Store) Unfinished(ctx context.Context) ([]*scheduler.Job, error) {
	ids, err := s.client.ZRange(ctx, unfinishedKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: unfinished: %w", unavailable(err))
	}
	jobs, _, err := s.states(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("redisq: unfinished: %w", err)
	}
	return jobs, nil
}

// states reads the state, priority and tenant of the jobs ids, pipelined
// a thousand at a time: the unfinished ones, and the ids of those that
// ended or are gone.
func (s *Store) states(ctx context.Context, ids []string) (jobs []*scheduler.Job, ended []any, err error) {
	return jobStates(ctx, s.client, ids)
}

// jobStates is Store.states over rc, which the Queue shares.
func jobStates(ctx context.Context, rc redis.UniversalClient, ids []string) (jobs []*scheduler.Job, ended []any, err error) {
	for start := 0; start < len(ids); start += 1000 {
		batch := ids[start:min(start+1000, len(ids))]
		pipe := rc.Pipeline()
		cmds := make([]*redis.SliceCmd, len(batch))
		for i, id := range batch {
			cmds[i] = pipe.HMGet(ctx, jobPrefix+id, "s", "p", "t")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, nil, unavailable(err)
		}
		for i, c := range cmds {
			st, _ := c.Val()[0].(string)
			p, _ := c.Val()[1].(string)
			tenant, _ := c.Val()[2].(string)
			state := scheduler.State(st)
			if st == "" || state.Terminal() {
				ended = append(ended, batch[i]) // finished meanwhile
				continue
			}
			prio := scheduler.Interactive
			if p == "1" {
				prio = scheduler.Batch
			}
			jobs = append(jobs, &scheduler.Job{ID: batch[i], Tenant: tenant, State: state, Priority: prio})
		}
	}
	return jobs, ended, nil
}

// DeleteFinished does nothing: Redis expires finished jobs itself.
func (s *Store) DeleteFinished(context.Context, time.Time) (int, error) { return 0, nil }

// Subscribe calls changed with the ID of every job any process changes,
// until ctx ends. Notices are best effort (Redis pub/sub): a scheduler
// that relies on them should also poll (scheduler.Config.Poll).
func (s *Store) Subscribe(ctx context.Context, changed func(id string)) {
	sub := s.client.Subscribe(ctx, changedChan)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return
			}
			changed(m.Payload)
		case <-ctx.Done():
			return
		}
	}
}

// unavailable marks an error from Redis itself (unreachable, loading,
// out of memory): the scheduler's callers may retry.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", scheduler.ErrUnavailable, err)
}

func decode(res any) (*scheduler.Job, error) {
	s, ok := res.(string)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %T", res)
	}
	j := new(scheduler.Job)
	if err := json.Unmarshal([]byte(s), j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	return j, nil
}
