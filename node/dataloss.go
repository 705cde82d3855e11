package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// generationCheckEvery is how often a process on Redis checks that Redis
// still holds the data it started with.
const generationCheckEvery = 5 * time.Second

// dataLoss watches Redis's generation key: once it vanished or changed,
// Redis lost its data under this process, and the node says so in the
// log and, for a server, on health (NOT_SERVING) until it restarts.
type dataLoss struct {
	gen     *redisq.Generation
	log     *slog.Logger
	redis   string
	health  func() *health.Server // nil result: no API (a worker)
	once    sync.Once
	lost    atomic.Bool // reported: health stays NOT_SERVING
	mu      sync.Mutex
	checked time.Time
}

// Lost reports whether Redis lost its data under this process; nil-safe.
func (d *dataLoss) Lost() bool { return d != nil && d.lost.Load() }

// watch checks every generationCheckEvery until ctx ends.
func (d *dataLoss) watch(ctx context.Context) {
	d.gen.Watch(ctx, generationCheckEvery, d.report)
}

// check reads the generation now, at most once a second (health checks
// are unauthenticated: they must not each cost a Redis round trip).
func (d *dataLoss) check(ctx context.Context) {
	d.mu.Lock()
	due := time.Since(d.checked) >= time.Second
	if due {
		d.checked = time.Now()
	}
	d.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := d.gen.Check(ctx); errors.Is(err, redisq.ErrDataLost) {
		d.report(err)
	}
}

func (d *dataLoss) report(err error) {
	d.once.Do(func() {
		d.log.Error("Redis lost its data: jobs accepted before may be gone, and clients asking for them get NOT_FOUND; restore Redis from its backup or resubmit, run Redis with appendonly yes, then restart this process",
			"redis", d.redis, "generation", d.gen.ID(), "err", err)
		d.lost.Store(true)
		if h := d.health(); h != nil {
			h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			h.SetServingStatus(pb.Prover_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
		}
	})
}

// checkedHealth is the gRPC health service, checking Redis's generation
// before it answers.
type checkedHealth struct {
	*health.Server
	before func(ctx context.Context)
}

func (h checkedHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.before(ctx)
	return h.Server.Check(ctx, req)
}

// generationFile is where a server remembers the Redis generation it saw
// last, in its data folder.
const generationFile = "redis-generation"

// rememberGeneration compares Redis's generation with the one this server
// saw last, to catch Redis losing its data while no proofmill process ran,
// and then remembers the current one.
func rememberGeneration(dataDir, redis string, gen *redisq.Generation, log *slog.Logger) error {
	path := filepath.Join(dataDir, generationFile)
	last, err := os.ReadFile(path)
	switch {
	case err == nil && strings.TrimSpace(string(last)) != gen.ID():
		log.Error("Redis's generation is not the one this server saw last: Redis lost its data while no proofmill process was running (a restart without persistence, a flush), or --redis names another Redis; jobs accepted before may be gone",
			"redis", redis, "last", strings.TrimSpace(string(last)), "now", gen.ID(), "file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("node: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("node: data dir: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(gen.ID()+"\n"), 0o600); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return nil
}
