package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// TaskType is the asynq task type of a proof job.
const TaskType = "proofmill:prove"

// QueueName is the asynq queue of a class of jobs: proofmill.PRIORITY for
// jobs of no tenant, proofmill.TENANT.PRIORITY for a tenant's.
func QueueName(c scheduler.Class) string {
	if c.Tenant == "" {
		return "proofmill." + c.Priority.String()
	}
	return "proofmill." + c.Tenant + "." + c.Priority.String()
}

// QueueConfig tunes a Queue. The zero value makes a producer: it enqueues,
// and Pop fails.
type QueueConfig struct {
	// Concurrency is how many tasks this process holds at once, taken from
	// Redis ahead of Pop; set it to the worker slots. 0 takes none.
	Concurrency int
	// Poll is how often an idle consumer looks for tasks (asynq polls, at
	// random between half and one and a half times this; it does not block
	// on Redis), and how soon a task handed back is in line again. It sets
	// the wait from enqueue to start on an idle worker. 0 means 50ms: about
	// twenty cheap scripts a second per idle worker.
	Poll time.Duration
	// MaxAttempts is the scheduler's (--max-attempts; 0 means 3): a task's
	// MaxRetry is one less, and asynq counts as retries only the attempts
	// that failed, so its Retried reads as the scheduler's count.
	MaxAttempts int
	// Retention is how long asynq keeps a succeeded job's task completed
	// (--retention; 0 means 24h), as the job is kept.
	Retention time.Duration
	// Tenants maps each tenant to its weight (0 means 1). A tenant's jobs
	// get queues of their own, which consumers serve in proportion to the
	// weights; jobs of other tenants share the common queues. Give every
	// server and worker the same tenants, or a worker that lacks one never
	// serves its queues.
	Tenants map[string]int
	// Dedicated are tenants whose queues only their own workers consume:
	// a consumer without Only skips them.
	Dedicated []string
	// Only, when set, makes a consumer serve that one tenant's queues
	// (which Tenants must list): a worker on the tenant's own machines.
	Only   string
	Logger *slog.Logger // nil means slog.Default()
}

// errHandBack returns a task to the queue without counting a failure: it
// goes back for a reason of the process, not of the job.
var errHandBack = errors.New("handed back")

// retryError returns a task to the queue for another attempt, counted as
// one of its retries: its message, asynq's last error, says why the attempt
// failed.
type retryError struct{ reason string }

func (e retryError) Error() string { return e.reason }

// endError ends a task as failed (archived, counted in asynq's failed
// tasks) with the job's reason as its last error.
type endError struct{ reason string }

func (e endError) Error() string        { return e.reason }
func (e endError) Is(target error) bool { return target == asynq.SkipRetry }

// release is what Release tells the handler holding a task.
type release struct {
	again bool
	retry string         // with again: the attempt failed, for this reason
	job   *scheduler.Job // the job as it ended; nil: not told (or gone)
	told  bool           // job was given
}

// Queue is a scheduler.Queue on asynq.
type Queue struct {
	rc        redis.UniversalClient
	cluster   bool     // scripts reach one slot: the job's record and its task are apart
	queues    sync.Map // on a Cluster, the queue names noted in asynq:queues
	inspector *asynq.Inspector
	server    *asynq.Server // nil for a producer
	cfg       QueueConfig
	log       *slog.Logger

	deliver  chan string   // handler → Pop
	stopping chan struct{} // closed by Shutdown
	mu       sync.Mutex
	held     map[string]chan release // popped IDs → their handler's release
	cancels  map[string]*canceller   // running IDs → their attempt's OnCancel

	sub       *redis.PubSub // a consumer's cancels; nil before Start
	listening chan struct{} // closed when sub's reader has stopped
}

// NewQueue returns a Queue over c. A consumer (Concurrency > 0) starts
// taking tasks at Start.
func NewQueue(c *Conn, cfg QueueConfig) *Queue {
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Retention == 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	_, cluster := c.client.(*redis.ClusterClient)
	q := &Queue{
		rc: c.client, cluster: cluster,
		inspector: asynq.NewInspectorFromRedisClient(c.client),
		cfg:       cfg, log: cfg.Logger,
		deliver: make(chan string), stopping: make(chan struct{}), held: map[string]chan release{}, cancels: map[string]*canceller{},
	}
	if cfg.Concurrency > 0 {
		// The same 4:1 share as scheduler.NextPriority, and each tenant's
		// weight, drawn at random for each task rather than counted.
		queues := map[string]int{}
		for _, tenant := range q.tenants() {
			if (cfg.Only != "" && tenant != cfg.Only) || (cfg.Only == "" && slices.Contains(cfg.Dedicated, tenant)) {
				continue
			}
			w := max(1, cfg.Tenants[tenant])
			queues[QueueName(scheduler.Class{Tenant: tenant, Priority: scheduler.Interactive})] = w * scheduler.InteractiveShare
			queues[QueueName(scheduler.Class{Tenant: tenant, Priority: scheduler.Batch})] = w
		}
		q.server = asynq.NewServerFromRedisClient(c.client, asynq.Config{
			Concurrency:              cfg.Concurrency,
			Queues:                   queues,
			TaskCheckInterval:        cfg.Poll,
			DelayedTaskCheckInterval: cfg.Poll,
			RetryDelayFunc: func(n int, err error, _ *asynq.Task) time.Duration {
				var retry retryError
				if errors.Is(err, errHandBack) || errors.As(err, &retry) {
					return 0 // the scheduler decided: at once
				}
				return min(time.Duration(n+1)*time.Second, 30*time.Second)
			},
			// Only a failed attempt counts: a worker's death, a lapsed
			// lease or a hand-back is none of the job's attempts.
			IsFailure: func(err error) bool {
				var retry retryError
				return errors.As(err, &retry)
			},
			ShutdownTimeout: time.Second, // the worker pool has drained by then
			Logger:          asynqLogger{cfg.Logger},
			LogLevel:        asynq.WarnLevel,
		})
	}
	return q
}

// tenants are "" (no tenant) and the configured ones.
func (q *Queue) tenants() []string {
	ts := []string{""}
	for t := range q.cfg.Tenants {
		ts = append(ts, t)
	}
	return ts
}

// queueOf is the queue a class's jobs go to: a tenant this process does
// not know shares the common queue, which every consumer serves.
func (q *Queue) queueOf(c scheduler.Class) string {
	if _, ok := q.cfg.Tenants[c.Tenant]; !ok {
		c.Tenant = ""
	}
	return QueueName(c)
}

// names are the queues of priority p.
func (q *Queue) names(p scheduler.Priority) []string {
	var out []string
	for _, t := range q.tenants() {
		out = append(out, QueueName(scheduler.Class{Tenant: t, Priority: p}))
	}
	return out
}

// Declare notes every queue this process serves or fills in asynq's set
// of queues, as asynq's enqueue does at a queue's first task: so asynq's
// tools (asynq queue ls, the Inspector) list them all before any job.
func (q *Queue) Declare(ctx context.Context) error {
	var names []any
	for _, p := range scheduler.Priorities {
		for _, n := range q.names(p) {
			names = append(names, n)
		}
	}
	if err := q.rc.SAdd(ctx, asynqQueues, names...).Err(); err != nil {
		return fmt.Errorf("redisq: declaring the queues: %w", unavailable(err))
	}
	return nil
}

// Start starts taking tasks, if this is a consumer; it declares the
// queues and subscribes to cancels of running jobs first.
func (q *Queue) Start() error {
	if q.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Declare(ctx); err != nil {
		return err
	}
	if err := q.subscribe(ctx); err != nil {
		return err
	}
	if err := q.server.Start(asynq.HandlerFunc(q.handle)); err != nil {
		return fmt.Errorf("redisq: start: %w", err)
	}
	return nil
}

// Shutdown hands back tasks taken but not popped, then stops the consumer:
// asynq puts back the tasks still held (their proofs did not finish in
// the worker pool's shutdown bound) for another worker. Call it after the
// worker pool's Shutdown.
func (q *Queue) Shutdown() {
	close(q.stopping)
	if q.server != nil {
		q.server.Shutdown()
	}
	if q.sub != nil {
		q.sub.Close()
		<-q.listening
	}
	q.inspector.Close()
}

// payload is a task's payload: the job's ID, which is the task's, and,
// for operators reading asynq's tools, its circuit (where the pusher knew
// it), tenant and priority. Only job is read: a task written as {"job": ID}
// before the others were added runs as well.
type payload struct {
	Job      string `json:"job"`
	Circuit  string `json:"circuit,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	Priority string `json:"priority,omitempty"`
}

func (q *Queue) Pop(ctx context.Context) (string, error) {
	if q.server == nil {
		return "", errors.New("redisq: pop: this queue only enqueues (Concurrency 0)")
	}
	select {
	case id := <-q.deliver:
		return id, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// handle holds one task: it hands the job ID to Pop and waits for Release.
func (q *Queue) handle(ctx context.Context, t *asynq.Task) error {
	taskID, _ := asynq.GetTaskID(ctx)
	var pl payload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil || pl.Job == "" || pl.Job != taskID {
		q.log.Error("redisq: malformed task; archived", "task", taskID, "type", t.Type(), "payload", truncate(t.Payload()))
		return fmt.Errorf("malformed %s task %q: payload must be {\"job\": the task id}: %w", t.Type(), taskID, asynq.SkipRetry)
	}
	if t.Type() != TaskType {
		return fmt.Errorf("unknown task type %q: %w", t.Type(), asynq.SkipRetry)
	}
	done := make(chan release, 1)
	q.mu.Lock()
	q.held[pl.Job] = done
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		if q.held[pl.Job] == done {
			delete(q.held, pl.Job)
		}
		q.mu.Unlock()
	}()
	select {
	case q.deliver <- pl.Job:
	case <-q.stopping:
		// Not popped: asynq puts it back as it was when its shutdown
		// bound passes (an error now would count against its retries).
		<-ctx.Done()
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case r := <-done:
		return r.result()
	case <-ctx.Done(): // the lease lapsed, or the consumer is stopping
		return ctx.Err()
	}
}

// result is what the handler returns asynq for a released task: nil for
// a success (asynq keeps it completed for the retention), the failed
// attempt's reason for a retry, the job's reason for a failure (archived),
// and a revocation (the task deleted) for a job cancelled or gone.
func (r release) result() error {
	switch {
	case r.again && r.retry != "":
		return retryError{reason: r.retry}
	case r.again:
		return errHandBack
	case !r.told:
		return nil
	case r.job == nil || r.job.State == scheduler.Cancelled:
		return asynq.RevokeTask
	case r.job.State == scheduler.Failed:
		return endError{reason: jobReason(r.job)}
	}
	return nil
}

// jobReason is a failed job's reason as asynq shows it: its error kind
// and message, which never hold its input.
func jobReason(j *scheduler.Job) string {
	if j.ErrorKind == "" {
		return j.Error
	}
	return j.ErrorKind + ": " + j.Error
}

func (q *Queue) Release(ctx context.Context, id string, c scheduler.Class, again bool) error {
	return q.release(ctx, id, c, release{again: again})
}

// ReleaseJob is Release, told the job as it stands (nil: gone) and, with
// again, the reason an attempt failed ("" for a hand-back): asynq then
// shows the task as the job ended, completed or failed, or waiting for
// its retry with the reason as its last error.
func (q *Queue) ReleaseJob(ctx context.Context, id string, j *scheduler.Job, again bool, retry string) error {
	var c scheduler.Class
	if j != nil {
		c = j.Class()
	}
	return q.release(ctx, id, c, release{again: again, retry: retry, job: j, told: true})
}

func (q *Queue) release(ctx context.Context, id string, c scheduler.Class, r release) error {
	q.mu.Lock()
	done, ok := q.held[id]
	delete(q.held, id)
	q.mu.Unlock()
	if ok {
		done <- r
		return nil
	}
	if r.again { // not held here (any more): put it in line afresh
		if r.job != nil {
			return q.PushJob(ctx, r.job)
		}
		return q.Push(ctx, id, c)
	}
	return nil
}

// RemoveJob is Remove, told the job that ended in line: a job failed (at
// its deadline) has its task archived with its reason, as a failure of
// asynq's; a cancelled one's task is deleted.
func (q *Queue) RemoveJob(ctx context.Context, j *scheduler.Job) error {
	if j.State != scheduler.Failed {
		return q.Remove(ctx, j.ID, j.Class())
	}
	return q.archive(ctx, q.queueOf(j.Class()), j.ID, jobReason(j))
}

func (q *Queue) Remove(_ context.Context, id string, c scheduler.Class) error {
	name := q.queueOf(c)
	err := q.inspector.DeleteTask(name, id)
	if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		// An active task cannot be deleted; its worker finds the job
		// cancelled and drops it.
		if info, ierr := q.inspector.GetTaskInfo(name, id); ierr == nil && info.State == asynq.TaskStateActive {
			return nil
		}
		return fmt.Errorf("redisq: remove %s: %w", id, err)
	}
	return nil
}

// Len counts the tasks in line at priority p, pending or handed back and
// due again shortly, from asynq's queue statistics. It is for tests and
// operators; admission counts waiting jobs in the Store instead
// (Store.CountQueued), which is cheaper.
func (q *Queue) Len(ctx context.Context, p scheduler.Priority) (int, error) {
	// GetQueueInfo fails on a queue no task has been in yet, with an error
	// asynq does not export: ask which queues exist first.
	exist, err := q.inspector.Queues()
	if err != nil {
		return 0, lengthCheckFailed(q.names(p), err)
	}
	n := 0
	for _, name := range q.names(p) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if !slices.Contains(exist, name) {
			continue
		}
		info, err := q.inspector.GetQueueInfo(name)
		if err != nil {
			return 0, lengthCheckFailed([]string{name}, err)
		}
		n += info.Pending + info.Retry
	}
	return n, nil
}

// lengthCheckFailed says which queues' length could not be read, not
// "job store unavailable".
func lengthCheckFailed(names []string, err error) error {
	return errcode.E("", errcode.Unavailable, fmt.Errorf("redisq: queue length check of %s failed: %w", strings.Join(names, ", "), err))
}

// Names are the asynq queues of priority p this process serves or fills:
// the common one and each configured tenant's.
func (q *Queue) Names(p scheduler.Priority) []string { return q.names(p) }

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// asynqLogger sends asynq's log lines to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error("asynq: fatal: " + fmt.Sprint(args...)) }

// Worker is one consumer process, as asynq's heartbeats report it.
type Worker struct {
	Host        string
	PID         int
	Concurrency int
	Held        int // tasks it holds now: proving, or about to
	Started     time.Time
	Status      string // asynq's: "active", "stopped", …
}

// Workers lists the processes consuming proofmill's queues. A process that
// died drops off once its heartbeat expires (about 10 s).
func (q *Queue) Workers() ([]Worker, error) {
	servers, err := q.inspector.Servers()
	if err != nil {
		return nil, fmt.Errorf("redisq: workers: %w", err)
	}
	var ws []Worker
	for _, s := range servers {
		if _, ours := s.Queues[QueueName(scheduler.Class{Priority: scheduler.Interactive})]; !ours {
			continue
		}
		ws = append(ws, Worker{Host: s.Host, PID: s.PID, Concurrency: s.Concurrency, Held: len(s.ActiveWorkers), Started: s.Started, Status: s.Status})
	}
	return ws, nil
}
