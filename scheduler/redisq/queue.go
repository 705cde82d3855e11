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
	// MaxRetry bounds how often asynq itself re-delivers a task whose worker
	// died; 0 means 25. The scheduler's own MaxAttempts normally stops a
	// job first.
	MaxRetry int
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

// errHandBack returns a task to the queue without counting a failure.
var errHandBack = errors.New("handed back")

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
	held     map[string]chan bool // popped IDs → their handler's release
}

// NewQueue returns a Queue over c. A consumer (Concurrency > 0) starts
// taking tasks at Start.
func NewQueue(c *Conn, cfg QueueConfig) *Queue {
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if cfg.MaxRetry == 0 {
		cfg.MaxRetry = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	_, cluster := c.client.(*redis.ClusterClient)
	q := &Queue{
		rc: c.client, cluster: cluster,
		inspector: asynq.NewInspectorFromRedisClient(c.client),
		cfg:       cfg, log: cfg.Logger,
		deliver: make(chan string), stopping: make(chan struct{}), held: map[string]chan bool{},
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
				if errors.Is(err, errHandBack) {
					return 0
				}
				return min(time.Duration(n+1)*time.Second, 30*time.Second)
			},
			IsFailure:       func(err error) bool { return !errors.Is(err, errHandBack) },
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

// Start starts taking tasks, if this is a consumer.
func (q *Queue) Start() error {
	if q.server == nil {
		return nil
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
	q.inspector.Close()
}

type payload struct {
	Job string `json:"job"`
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
	release := make(chan bool, 1)
	q.mu.Lock()
	q.held[pl.Job] = release
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		if q.held[pl.Job] == release {
			delete(q.held, pl.Job)
		}
		q.mu.Unlock()
	}()
	select {
	case q.deliver <- pl.Job:
	case <-q.stopping:
		return errHandBack
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case again := <-release:
		if again {
			return errHandBack
		}
		return nil
	case <-ctx.Done(): // the lease lapsed, or the consumer is stopping
		return ctx.Err()
	}
}

func (q *Queue) Release(ctx context.Context, id string, c scheduler.Class, again bool) error {
	q.mu.Lock()
	release, ok := q.held[id]
	delete(q.held, id)
	q.mu.Unlock()
	if ok {
		release <- again
		return nil
	}
	if again { // not held here (any more): put it in line afresh
		return q.Push(ctx, id, c)
	}
	return nil
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
