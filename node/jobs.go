package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
	"github.com/proofmill/proofmill/scheduler/redisq"
	"github.com/proofmill/proofmill/tenants"
	"github.com/proofmill/proofmill/vault"
)

// jobs is where a node keeps jobs: the embedded journal and in-memory
// queue, or Redis shared with other processes.
type jobs struct {
	store  scheduler.Store
	queue  scheduler.Queue
	admit  scheduler.Admitter                                         // nil: the scheduler stores, then pushes
	ring   vault.Ring                                                 // where the wrapped data keys are
	counts func(ctx context.Context) (map[scheduler.State]int, error) // nil: not known cheaply

	embedded   *embedded.Store
	conn       *redisq.Conn
	redisStore *redisq.Store
	redisQueue *redisq.Queue
	generation *redisq.Generation // what this process found in Redis at start
	consuming  bool
	stopOnce   sync.Once
}

// JournalPath is the embedded journal in a data folder; its marker and
// owner files lie beside it (see package embedded).
func JournalPath(dataDir string) string { return filepath.Join(dataDir, "jobs.db") }

// openEmbedded opens the journal in dataDir. It refuses a journal that is
// damaged, or missing or empty where one was made, and names the process
// that holds one in use; damaged records are logged to log.
func openEmbedded(dataDir string, weight func(tenant string) int, log *slog.Logger) (*jobs, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	store, err := embedded.OpenWith(JournalPath(dataDir), embedded.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	queue := embedded.NewQueue(embedded.QueueConfig{Weight: weight, Drop: store.Damaged})
	return &jobs{store: store, queue: queue, ring: vault.FileRing{Path: DataKeysPath(dataDir)}, counts: store.Counts, embedded: store}, nil
}

// openRedis connects to Redis, refuses one that would lose accepted jobs
// (unless cfg.RedisVolatile), and reads its generation; consume is how
// many jobs this process proves at once (0: it only submits and reads),
// from the tenants' queues as the table weighs them (cfg.Tenant's only,
// for a tenant's worker; none of a tenant that has its own workers, else).
func openRedis(ctx context.Context, cfg Config, consume int, table *tenants.Table) (*jobs, error) {
	if cfg.Tenant != "" && table.Find(cfg.Tenant) == nil {
		return nil, errcode.Errorf(errcode.Usage, "worker: --tenant %s is not in the tenant table %s", cfg.Tenant, cfg.Tenants)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := redisq.Dial(ctx, cfg.Redis)
	if err != nil {
		return nil, err
	}
	if err := redisq.CheckDurability(ctx, conn, redisq.DurabilityConfig{Volatile: cfg.RedisVolatile, Logger: cfg.Logger}); err != nil {
		conn.Close()
		return nil, err
	}
	gen, err := conn.Generation(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	store := redisq.NewStore(conn, redisq.StoreConfig{Retention: cfg.Retention, MinReplicas: cfg.RedisMinReplicas, ReplicaTimeout: cfg.RedisReplicaTimeout,
		MaxQueued: cfg.MaxQueued})
	queue := redisq.NewQueue(conn, redisq.QueueConfig{Concurrency: consume, Poll: cfg.Poll, Tenants: table.Weights(),
		Dedicated: table.Dedicated(), Only: cfg.Tenant, MaxAttempts: cfg.MaxAttempts, Retention: cfg.Retention, Logger: cfg.Logger})
	if err := queue.Declare(ctx); err != nil { // asynq's tools list every queue from now
		conn.Close()
		return nil, err
	}
	return &jobs{store: store, queue: queue, admit: redisq.NewAdmitter(store, queue), ring: store, conn: conn, redisStore: store, redisQueue: queue,
		generation: gen}, nil
}

func (j *jobs) shared() bool { return j.conn != nil }

// startConsuming begins taking jobs from a shared queue.
func (j *jobs) startConsuming() error {
	if j.redisQueue == nil || j.consuming {
		return nil
	}
	j.consuming = true
	return j.redisQueue.Start()
}

// stopConsuming hands held jobs back to a shared queue: after the worker
// pool's shutdown, so that only what the pool did not finish goes back.
// The queue stays readable for ListDevices until the connection closes.
func (j *jobs) stopConsuming() {
	if j.redisQueue != nil {
		j.stopOnce.Do(j.redisQueue.Shutdown)
	}
}

func (j *jobs) close() error {
	if j.embedded != nil {
		return j.embedded.Close()
	}
	return j.conn.Close()
}
