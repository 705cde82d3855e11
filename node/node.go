package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/audit"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/server"
	"github.com/proofmill/proofmill/tenants"
	"github.com/proofmill/proofmill/worker"
)

type state int

const (
	stateNew state = iota
	stateRunning
	stateStopped
)

// Node is one running proofmill process: a server or a worker.
type Node struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	state state

	// In the order Start makes them.
	tracer     *sdktrace.TracerProvider // nil: no tracing
	signer     *receipt.Signer
	tenants    *tenants.Table
	jobs       *jobs
	privacy    *privacy
	gpus       []*hwaccel.Isolated
	cpus       []*hwaccel.Isolated // IsolateCPU's worker processes
	prover     *prover.Prover
	audit      *audit.Log
	sched      *scheduler.Scheduler
	metrics    *metrics
	pool       *worker.Pool
	listener   net.Listener
	grpc       *grpc.Server
	health     *health.Server
	dataLoss   *dataLoss // on Redis: watches for Redis losing its data
	keyHealth  *keyHealth
	metricsSrv *http.Server
	metricsLis net.Listener
	stopLoops  context.CancelFunc
	loops      sync.WaitGroup
	admitting  chan struct{} // closed once a server admits submissions
}

// Admitting is closed once a server admits submissions: after Start's
// recovery of the jobs a previous process left. It never closes on a
// worker.
func (n *Node) Admitting() <-chan struct{} { return n.admitting }

// ErrState: Start on a node that is not new, or Shutdown on one that
// never started.
var ErrState = errcode.New(errcode.Usage, "node: wrong state")

// New checks cfg and returns a node; Start runs it.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, log: cfg.Logger, admitting: make(chan struct{})}, nil
}

// Start opens and starts everything, in this order: the tracer provider
// (with Config.Tracing), the tenant table, the
// GPU worker processes, the job store and queue (on Redis: its durability
// settings checked, its generation read and, for a server, compared with
// the one it saw last), the prover (and preloaded keys), the audit log,
// the scheduler, the metrics, the worker pool, then for a server the gRPC
// listener (NOT_SERVING, submissions refused), and the metrics endpoint and
// background loops, the first of which re-queues what a previous process
// left unfinished and then admits (see Admitting). If a step
// fails, what was opened is closed (by the path Shutdown takes) and Start
// returns the error. ctx bounds the start (a Redis dial, GPU discovery),
// not the node's life.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != stateNew {
		return fmt.Errorf("%w: start a node that already started", ErrState)
	}
	n.state = stateRunning
	defer func() {
		if err != nil {
			n.state = stateStopped
			if terr := n.teardown(context.WithoutCancel(ctx)); terr != nil {
				n.log.Warn("closing after a failed start", "err", terr)
			}
		}
	}()
	cfg := n.cfg
	if n.tracer, err = newTracerProvider(ctx, cfg.Tracing, cfg.Role, cfg.Version); err != nil {
		return err
	}
	if n.signer, err = receiptSigner(cfg.ReceiptKey, cfg.Version, cfg.Role == Serve, n.log); err != nil {
		return err
	}
	if cfg.Tenants != "" {
		if n.tenants, err = tenants.Load(cfg.Tenants); err != nil {
			return err
		}
		n.log.Info("tenants", "file", cfg.Tenants, "count", len(n.tenants.All()))
	}
	if n.gpus, err = startGPUs(ctx, cfg); err != nil {
		return err
	}
	slots := cfg.slots(len(n.gpus))
	if n.cpus, err = startCPUs(cfg, slots); err != nil {
		return err
	}
	if cfg.Redis != "" {
		n.jobs, err = openRedis(ctx, cfg, slots, n.tenants)
	} else {
		n.jobs, err = openEmbedded(cfg.DataDir, n.tenants.Weight, n.log)
	}
	if err != nil {
		return err
	}
	if n.privacy, err = openPrivacy(cfg, n.jobs.ring, n.tenants, n.log); err != nil {
		return err
	}
	if n.jobs.generation != nil && cfg.Role == Serve {
		if err := rememberGeneration(cfg.DataDir, cfg.Redis, n.jobs.generation, n.log); err != nil {
			return err
		}
	}
	if n.jobs.generation != nil {
		n.dataLoss = &dataLoss{gen: n.jobs.generation, log: n.log, redis: cfg.Redis, health: func() *health.Server { return n.health }}
	}
	if err := n.startProver(); err != nil {
		return err
	}
	if err := n.startScheduler(); err != nil {
		return err
	}
	n.metrics = newMetrics(n.metricsSources())
	n.pool = worker.New(n.sched, n.prover, worker.Config{Slots: slots, Logger: n.log, Observe: n.metrics.observe, InputKeys: n.privacy,
		Tracing: n.tracerProvider()})
	if !cfg.holdWorkers {
		if err := n.startWorkers(); err != nil {
			return err
		}
	}
	var admit func()
	if cfg.Role == Serve {
		// Listen first, NOT_SERVING and refusing submissions (UNAVAILABLE,
		// which clients retry) until recovery has put the jobs a previous
		// process left back in line (startLoops).
		admit = n.sched.HoldSubmissions()
		n.keyHealth.recovering.Store(true)
		if err := n.startAPI(); err != nil {
			admit()
			return err
		}
		n.keyHealth.attach(n.prover, n.health)
	}
	if err := n.startMetrics(); err != nil {
		return err
	}
	n.startLoops(admit)
	n.log.Info(cfg.Role.String()+" ready", "grpc", n.Addr(), "jobs", cfg.jobsName(), "workers", slots,
		"keys", n.prover.Store().Dir, "pid", os.Getpid())
	return nil
}

// startScheduler opens the audit log and makes the scheduler over it.
func (n *Node) startScheduler() error {
	cfg := n.cfg
	schedCfg := scheduler.Config{MaxQueued: cfg.MaxQueued, MaxAttempts: cfg.MaxAttempts, Retention: cfg.Retention, Logger: n.log,
		Notary: server.Notary{Signer: n.signer}, Inputs: n.privacy.cipher(), Tracing: n.tracerProvider()}
	if cfg.plainInputs {
		schedCfg.Inputs = nil
	}
	if cfg.Audit != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Audit), 0o700); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		var err error
		if n.audit, err = audit.Open(cfg.Audit); err != nil {
			return err
		}
		schedCfg.Audit = auditor{n.audit}
	}
	if cfg.Role == Serve {
		// Refuse a job whose keys cannot be used, rather than fail its
		// every attempt; on a shared queue also pin it to our keys.
		schedCfg.VerifyingKey = n.admitKeys
	}
	if cfg.Role == Serve && n.jobs.shared() {
		schedCfg.Poll = 2 * time.Second
	}
	// Deadlines are forecast from this process's own slots and proofs (a
	// server on Redis whose workers are elsewhere sees neither, and so
	// refuses none). The metrics exist before any job starts.
	schedCfg.Slots = n.slots
	schedCfg.ForecastError = func(late time.Duration) { n.metrics.forecastMissed(late) }
	schedCfg.Used = func(u scheduler.Usage) { n.metrics.usage.add(u) }
	schedCfg.Admitter = n.jobs.admit
	n.sched = scheduler.New(n.jobs.store, n.jobs.queue, schedCfg)
	return nil
}

// startProver makes the prover: on the GPUs' pool, a worker's device, or
// the CPU; then loads the keys asked for.
func (n *Node) startProver() error {
	cfg := n.cfg
	n.keyHealth = &keyHealth{log: n.log, lost: n.dataLoss.Lost}
	pcfg := prover.Config{Store: prover.KeyStore{Dir: cfg.KeysDir}, DevSetup: cfg.DevSetup, Production: cfg.Production,
		Logger: n.log, OnFallback: func(device, reason string) { n.metrics.fellBack(device, reason) },
		OnKeys: func(string, error) { n.keyHealth.refresh() }}
	if cfg.Production {
		pcfg.VerdictDir = filepath.Join(cfg.DataDir, "ceremony-verdicts")
	}
	switch {
	case len(n.gpus) > 0:
		pcfg.Backend = hwaccel.NewDevices(n.gpus)
		if len(n.cpus) > 0 {
			pcfg.Fallback = hwaccel.NewDevices(n.cpus)
		}
	case len(n.cpus) > 0:
		pcfg.Backend = hwaccel.NewDevices(n.cpus)
	case cfg.Device != "":
		// In this process: if the device takes the process down, asynq
		// hands its job to another worker once the lease lapses.
		b, dev, err := hwaccel.Open(cfg.Device, hwaccel.DeviceOptions{Pin: hwaccel.PinPolicy(cfg.Pin, cfg.PinBudgetMiB)})
		if err != nil {
			return err
		}
		pcfg.Backend = b
		n.log.Info("device", "id", dev.ID, "name", dev.Name)
	}
	var err error
	if n.prover, err = prover.New(pcfg); err != nil {
		return err
	}
	return preload(n.prover, cfg.Preload, n.log)
}

// startWorkers starts the pool and, on Redis, the consumer that feeds it.
func (n *Node) startWorkers() error {
	if n.pool.Slots() == 0 {
		return nil
	}
	if err := n.jobs.startConsuming(); err != nil {
		return err
	}
	n.pool.Start()
	return nil
}

// startAPI listens and serves gRPC: the handlers, health and reflection.
func (n *Node) startAPI() error {
	cfg := n.cfg
	creds, err := cfg.TLS.credentials(cfg.Listen, n.log)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	lis = cfg.Limits.Listener(lis, n.log)
	n.listener = lis
	// Twice the input limit reaches the handler, which names the field and
	// the limit; only larger messages get gRPC's own refusal.
	opts := append(server.Interceptors(n.log, 2*cfg.MaxInputBytes+64<<10), creds)
	opts = append(opts, cfg.Limits.ServerOptions()...)
	if n.tracer != nil {
		opts = append(opts, rpcTracing(n.tracer))
	}
	if n.tenants != nil {
		opts = append(opts, server.Authenticate(n.tenants)...)
	}
	n.grpc = grpc.NewServer(opts...)
	pb.RegisterProverServer(n.grpc, server.New(n.sched, n.prover, server.Config{
		MaxInputBytes: cfg.MaxInputBytes, Logger: n.log, Devices: n.devices, Receipts: n.signer, Tenants: n.tenants, InputKeys: n.privacy,
		Usage: n.sched}))
	n.health = health.NewServer()
	if n.dataLoss != nil {
		healthpb.RegisterHealthServer(n.grpc, checkedHealth{Server: n.health, before: n.dataLoss.check})
	} else {
		healthpb.RegisterHealthServer(n.grpc, n.health)
	}
	reflection.Register(n.grpc)
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		if err := n.grpc.Serve(lis); err != nil {
			n.log.Error("grpc serve", "err", err)
		}
	}()
	return nil
}

func (n *Node) startMetrics() error {
	if n.cfg.MetricsListen == "" {
		return nil
	}
	lis, err := net.Listen("tcp", n.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("node: metrics: %w", err)
	}
	n.metricsLis = lis
	mux := http.NewServeMux()
	mux.Handle("/metrics", n.metrics.handler())
	n.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		if err := n.metricsSrv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics serve", "err", err)
		}
	}()
	n.log.Info("metrics", "url", "http://"+lis.Addr().String()+"/metrics")
	return nil
}

// startLoops starts the background loops: on Redis, the watch for Redis
// losing its data; a server's housekeeping, and its subscription to
// other processes' changes on Redis.
func (n *Node) startLoops(admit func()) {
	ctx, stop := context.WithCancel(context.Background())
	n.stopLoops = stop
	if admit != nil {
		n.loops.Add(1)
		go func() {
			defer n.loops.Done()
			n.recoverThenAdmit(ctx, admit)
		}()
	}
	if n.dataLoss != nil {
		n.loops.Add(1)
		go func() {
			defer n.loops.Done()
			n.dataLoss.watch(ctx)
		}()
	}
	if n.cfg.Role != Serve {
		return
	}
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		n.housekeeping(ctx)
	}()
	if n.jobs.redisStore != nil {
		n.loops.Add(1)
		go func() {
			defer n.loops.Done()
			n.jobs.redisStore.Subscribe(ctx, n.sched.Notify) // wake watchers on other processes' changes
		}()
	}
}

// recoverThenAdmit puts back in line what a previous process left
// unfinished, retrying until it can, then admits submissions and lets
// health say SERVING.
func (n *Node) recoverThenAdmit(ctx context.Context, admit func()) {
	if n.cfg.beforeRecovery != nil {
		n.cfg.beforeRecovery()
	}
	start := time.Now()
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		recovered, err := n.sched.Recover(ctx)
		if err == nil {
			n.log.Info("recovered unfinished jobs; admitting", "recovered_jobs", recovered, "took", time.Since(start).Round(time.Millisecond))
			break
		}
		n.log.Error("recovering unfinished jobs; submissions wait, health NOT_SERVING", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	admit()
	n.keyHealth.recovering.Store(false)
	n.keyHealth.refresh()
	close(n.admitting)
}

// Run starts the node, serves until ctx ends (SIGTERM, say), then shuts
// it down within Config.ShutdownTimeout.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.ShutdownTimeout)
	defer cancel()
	return n.Shutdown(sctx)
}

// Shutdown stops the node, in this order:
//
//  1. health turns NOT_SERVING and new submissions get UNAVAILABLE;
//  2. the worker pool stops taking jobs and waits for running proofs,
//     bounded by ctx (queued jobs stay in the journal, or in Redis); a job
//     still waiting for its circuit's keys (a development setup, which
//     cannot be interrupted) goes back in line at once, its attempt
//     uncounted, and the setup is not waited for;
//  3. the Redis consumer hands back the jobs the pool did not finish;
//  4. the GPU (and IsolateCPU's) worker processes stop;
//  5. gRPC stops, after at most 2 s for calls in flight (a watch of a
//     queued job would wait forever);
//  6. the metrics endpoint and the background loops stop;
//  7. the scheduler's deadline timers stop;
//  8. the job store and the audit log close;
//  9. the tracer provider flushes the spans it holds to its exporters
//     and stops, bounded by ctx: last, so that it has every span the
//     steps above ended.
//
// Reads keep working until step 5, so clients watching a running job see
// its end.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != stateRunning {
		return fmt.Errorf("%w: shut down a node that is not running", ErrState)
	}
	n.state = stateStopped
	if deadline, ok := ctx.Deadline(); ok {
		n.log.Info("shutting down", "bound", time.Until(deadline).Round(time.Second))
	} else {
		n.log.Info("shutting down")
	}
	err := n.teardown(ctx)
	n.log.Info("stopped", "err", err)
	return err
}

// teardown is Shutdown's order, for whatever a node holds: the one way
// down, whether it started fully or failed halfway.
func (n *Node) teardown(ctx context.Context) error {
	var errs []error
	if n.health != nil {
		n.health.Shutdown()
	}
	if n.sched != nil {
		n.sched.Drain()
	}
	if n.pool != nil {
		errs = append(errs, n.pool.Shutdown(ctx))
	}
	if n.jobs != nil {
		n.jobs.stopConsuming()
	}
	for _, d := range slices.Concat(n.gpus, n.cpus) {
		errs = append(errs, d.Shutdown(ctx))
	}
	if n.grpc != nil {
		stopped := make(chan struct{})
		go func() { n.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			n.grpc.Stop()
		}
	} else if n.listener != nil {
		n.listener.Close()
	}
	if n.metricsSrv != nil {
		n.metricsSrv.Close()
	}
	if n.stopLoops != nil {
		n.stopLoops()
	}
	n.loops.Wait()
	if n.sched != nil {
		n.sched.Close() // its deadline timers write to the store
	}
	if n.jobs != nil {
		errs = append(errs, n.jobs.close())
	}
	if n.audit != nil {
		errs = append(errs, n.audit.Close())
	}
	if n.tracer != nil {
		if err := n.tracer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: flushing traces: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Addr is the gRPC address a server listens on; "" for a worker.
func (n *Node) Addr() string {
	if n.listener == nil {
		return ""
	}
	return n.listener.Addr().String()
}

// MetricsAddr is the metrics endpoint's address; "" without one.
func (n *Node) MetricsAddr() string {
	if n.metricsLis == nil {
		return ""
	}
	return n.metricsLis.Addr().String()
}

// Workers is how many proofs this node runs at once.
func (n *Node) Workers() int { return n.slots() }

func (n *Node) slots() int {
	if n.pool == nil {
		return 0
	}
	return n.pool.Slots()
}

func (n *Node) busy() int {
	if n.pool == nil {
		return 0
	}
	return n.pool.Busy()
}

// housekeeping expires finished jobs and, on a shared queue, puts back in
// line any job a crashed server stored but did not queue (Reconcile: only
// those, not every queued job). It runs until ctx ends.
func (n *Node) housekeeping(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if k, err := n.sched.Expire(ctx); err != nil {
			n.log.Error("expire finished jobs", "err", err)
		} else if k > 0 {
			n.log.Info("expired finished jobs", "count", k)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		n.keyHealth.refresh() // keys set up or repaired since
		n.privacy.retire(ctx, n.jobs.store, n.cfg.DataKeyRotation, n.log)
		if n.jobs.shared() {
			if _, err := n.sched.Reconcile(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("requeue unfinished jobs", "err", err)
			}
		}
	}
}

// admitKeys is a submission's check of the circuit's keys: an error
// (no_keys, corrupt_keys, development_keys) refuses the job at once. On a
// shared queue it returns the hash of the verifying key this server's
// proofs check against, the one workers must prove with; "" pins nothing.
func (n *Node) admitKeys(_ context.Context, id string) (string, error) {
	c, err := circuits.Lookup(id)
	if err != nil {
		return "", err
	}
	if err := n.prover.Ready(c); err != nil {
		return "", err
	}
	if !n.jobs.shared() {
		return "", nil // our own workers prove with these very keys
	}
	k, err := n.prover.Keys(c)
	if err != nil {
		return "", err
	}
	return k.VerifyingKeyHash(), nil
}

// preload loads keys at start: "present" (every circuit with a folder in
// the key store), "none", or a comma list of ids. Keys named in the list
// must load, and production refuses to start with keys that are not a
// verified ceremony's; a "present" circuit whose keys are missing or
// corrupt is marked unavailable (health, ListCircuits, submissions) and
// the node starts without it.
func preload(p *prover.Prover, which string, log *slog.Logger) error {
	var ids []string
	present := which == "present"
	switch which {
	case "none":
	case "present":
		for _, c := range circuits.All() {
			if _, err := p.Store().Manifest(c.ID); !errors.Is(err, prover.ErrNoKeys) {
				ids = append(ids, c.ID) // keys, or a manifest that cannot be read
			}
		}
	default:
		ids = strings.Split(which, ",")
	}
	for _, id := range ids {
		c, err := circuits.Lookup(strings.TrimSpace(id))
		if err != nil {
			return err
		}
		_, err = p.Keys(c)
		switch {
		case err == nil:
		case present && !errors.Is(err, prover.ErrDevelopmentKeys):
			log.Error("preload: keys unusable; the circuit is unavailable until they are repaired", "circuit", c.ID, "err", err)
		default:
			return err
		}
	}
	return nil
}
