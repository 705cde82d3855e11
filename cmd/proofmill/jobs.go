package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// jobBackend is where a process keeps jobs: the embedded journal and
// in-memory queue, or Redis shared with other processes.
type jobBackend struct {
	name   string
	store  scheduler.Store
	queue  scheduler.Queue
	counts func(ctx context.Context) (map[scheduler.State]int, error) // nil: not known cheaply

	embedded   *embedded.Store
	conn       *redisq.Conn
	redisStore *redisq.Store
	redisQueue *redisq.Queue
}

func openEmbedded(dataDir string, weight func(tenant string) int) (*jobBackend, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dataDir, "jobs.db")
	store, err := embedded.Open(path)
	if err != nil {
		return nil, err
	}
	return &jobBackend{name: path, store: store, queue: embedded.NewQueue(embedded.QueueConfig{Weight: weight}), counts: store.Counts, embedded: store}, nil
}

// openRedis connects to Redis; consume is how many jobs this process
// proves at once (0: it only submits and reads), and poll how often it
// looks for jobs while idle (0: redisq's default).
func openRedis(addr string, consume int, poll, retention time.Duration, tenants map[string]int, log *slog.Logger) (*jobBackend, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := redisq.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	store := redisq.NewStore(conn, redisq.StoreConfig{Retention: retention})
	queue := redisq.NewQueue(conn, redisq.QueueConfig{Concurrency: consume, Poll: poll, Tenants: tenants, Logger: log})
	return &jobBackend{name: "redis " + addr, store: store, queue: queue, conn: conn, redisStore: store, redisQueue: queue}, nil
}

func (b *jobBackend) shared() bool { return b.conn != nil }

// start begins taking jobs from a shared queue.
func (b *jobBackend) start() error {
	if b.redisQueue != nil {
		return b.redisQueue.Start()
	}
	return nil
}

// stop hands held jobs back to a shared queue; call it after the worker
// pool's shutdown, and only once.
func (b *jobBackend) stop() {
	if b.redisQueue != nil {
		b.redisQueue.Shutdown()
		b.redisQueue = nil
	}
}

func (b *jobBackend) close() error {
	if b.embedded != nil {
		return b.embedded.Close()
	}
	return b.conn.Close()
}
