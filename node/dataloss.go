package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

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
	mu      sync.Mutex
	checked time.Time
}

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
		if h := d.health(); h != nil {
			h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
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
