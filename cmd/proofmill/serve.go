package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/server"
	"github.com/proofmill/proofmill/worker"
)

// serveConfig is everything `proofmill serve` takes.
type serveConfig struct {
	Listen          string
	MetricsListen   string // empty: no metrics endpoint
	DataDir         string
	KeysDir         string
	Workers         int
	MaxQueued       int
	MaxAttempts     int
	Retention       time.Duration
	MaxInputBytes   int
	ShutdownTimeout time.Duration
	DevSetup        bool
	Preload         string // "present", "none", or a comma list of circuit ids
	Redis           string // empty: the embedded journal and queue
	Devices         deviceConfig
	TLS             serverTLS
	ReceiptKey      string // Ed25519 key that signs receipts; empty: receipt.key in DataDir
	Tenants         string // tenant table file; empty: one anonymous tenant
	Production      bool   // refuse development keys
	Audit           string // audit log file; empty: audit.log in DataDir

	pausedWorkers bool // tests: start the pool later, by hand
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "proofmill")
	}
	return "proofmill-data"
}

func serveFlags(fs *flag.FlagSet, cfg *serveConfig) {
	fs.StringVar(&cfg.Listen, "listen", envOr("PROOFMILL_LISTEN", "127.0.0.1:7420"), "gRPC `address` ($PROOFMILL_LISTEN)")
	fs.StringVar(&cfg.MetricsListen, "metrics", envOr("PROOFMILL_METRICS", "127.0.0.1:7421"), "Prometheus metrics `address`; empty disables ($PROOFMILL_METRICS)")
	fs.StringVar(&cfg.DataDir, "data", envOr("PROOFMILL_DATA", defaultDataDir()), "`dir` for the job journal ($PROOFMILL_DATA)")
	fs.IntVar(&cfg.Workers, "workers", envInt("PROOFMILL_WORKERS", 0), "in-process proofs at once; 0 sizes to the machine, or with --redis runs none ($PROOFMILL_WORKERS)")
	fs.StringVar(&cfg.Devices.GPUs, "gpus", os.Getenv("PROOFMILL_GPUS"), "prove on GPUs, each in a supervised worker process: all, or ids like cuda:0,cuda:1 ($PROOFMILL_GPUS)")
	fs.DurationVar(&cfg.Devices.ProofTimeout, "device-timeout", 15*time.Minute, "a GPU proof running longer means the device hung: its worker is restarted and the job proved on the CPU")
	fs.StringVar(&cfg.Devices.Pin, "pin", "none", "circuits whose proving keys stay in GPU memory: none, all, or ids")
	fs.IntVar(&cfg.Devices.PinBudgetMiB, "pin-budget-mib", 0, "GPU memory pinned keys may take, in MiB; 0: no limit")
	fs.StringVar(&cfg.Redis, "redis", os.Getenv("PROOFMILL_REDIS"), "share jobs through Redis at `addr` (host:port or URI, see README) instead of the embedded journal ($PROOFMILL_REDIS)")
	fs.IntVar(&cfg.MaxQueued, "max-queued", 10_000, "jobs waiting at once before RESOURCE_EXHAUSTED")
	fs.IntVar(&cfg.MaxAttempts, "max-attempts", 3, "tries per job for retryable failures")
	fs.DurationVar(&cfg.Retention, "retention", 24*time.Hour, "how long finished jobs and their proofs are kept")
	fs.IntVar(&cfg.MaxInputBytes, "max-input", 1<<20, "largest input_json in `bytes`")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a shutdown waits for running proofs")
	fs.BoolVar(&cfg.DevSetup, "dev-setup", true, "make development keys for a circuit the key store lacks (with a warning)")
	fs.StringVar(&cfg.Preload, "preload", "present", "load keys at start: present (every circuit with keys), none, or ids")
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert", os.Getenv("PROOFMILL_TLS_CERT"), "PEM certificate `file` of the server; with --tls-key, serve TLS ($PROOFMILL_TLS_CERT)")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key", os.Getenv("PROOFMILL_TLS_KEY"), "PEM `file` of the certificate's private key ($PROOFMILL_TLS_KEY)")
	fs.StringVar(&cfg.TLS.ClientCA, "client-ca", os.Getenv("PROOFMILL_CLIENT_CA"), "PEM `file` of the CA client certificates must chain to: mTLS ($PROOFMILL_CLIENT_CA)")
	fs.BoolVar(&cfg.TLS.Insecure, "insecure", false, "allow plaintext gRPC on a non-loopback --listen address (anyone on the network can read and submit)")
	fs.BoolVar(&cfg.Production, "production", false, "refuse development keys: every circuit proved needs keys from a ceremony (keys import); implies --dev-setup=false")
	fs.StringVar(&cfg.Tenants, "tenants", os.Getenv("PROOFMILL_TENANTS"), "tenant table `file` (JSON, see README): every call must then authenticate as a tenant ($PROOFMILL_TENANTS)")
	fs.StringVar(&cfg.Audit, "audit", os.Getenv("PROOFMILL_AUDIT"), "append-only audit log `file` (default audit.log in --data) ($PROOFMILL_AUDIT)")
	fs.StringVar(&cfg.ReceiptKey, "receipt-key", os.Getenv("PROOFMILL_RECEIPT_KEY"), "Ed25519 private key `file` (PKCS #8 PEM) that signs receipts, made if missing; servers sharing Redis share it (default receipt.key in --data) ($PROOFMILL_RECEIPT_KEY)")
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "serve")
	var cfg serveConfig
	serveFlags(fs, &cfg)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.KeysDir = *keysDir
	n, err := startNode(cfg, e.log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	e.log.Info("shutting down", "bound", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return n.shutdown(sctx)
}

// node is one running service: job journal, scheduler, workers, gRPC and
// metrics. startNode starts them in that order; shutdown stops them in the
// reverse one.
type node struct {
	log       *slog.Logger
	jobs      *jobBackend
	sched     *scheduler.Scheduler
	prover    *prover.Prover
	gpus      []*hwaccel.Isolated // GPU worker processes
	stats     *server.Metrics
	pool      *worker.Pool
	grpc      *grpc.Server
	health    *health.Server
	audit     *server.Audit
	metrics   *http.Server
	addr      net.Addr
	stopTimer context.CancelFunc
	wg        sync.WaitGroup
}

func startNode(cfg serveConfig, log *slog.Logger) (_ *node, err error) {
	n := &node{log: log}
	defer func() {
		if err != nil {
			n.closeAll()
		}
	}()
	slots := cfg.Workers
	if slots == 0 && cfg.Redis == "" {
		slots = worker.DefaultSlots()
	}
	var tenants *server.Tenants
	if cfg.Tenants != "" {
		if tenants, err = server.LoadTenants(cfg.Tenants); err != nil {
			return nil, err
		}
		log.Info("tenants", "file", cfg.Tenants, "count", len(tenants.All()))
	}
	if cfg.Redis != "" {
		n.jobs, err = openRedis(cfg.Redis, slots, 0, cfg.Retention, tenants.Weights(), log)
	} else {
		n.jobs, err = openEmbedded(cfg.DataDir, tenants.Weight)
	}
	if err != nil {
		return nil, err
	}
	pcfg := prover.Config{Store: prover.KeyStore{Dir: cfg.KeysDir}, DevSetup: cfg.DevSetup, Production: cfg.Production, Logger: log,
		OnFallback: func(device, reason string) { n.stats.Fallback(device, reason) }}
	if n.gpus, err = startDevices(context.Background(), cfg.Devices, cfg.KeysDir, &env{log: log}); err != nil {
		return nil, err
	}
	if len(n.gpus) > 0 {
		pcfg.Backend = hwaccel.NewDevices(n.gpus)
		if cfg.Workers == 0 {
			slots = len(n.gpus) // one job per device; the CPU takes their failures
		}
	}
	if n.prover, err = prover.New(pcfg); err != nil {
		return nil, err
	}
	if err := preload(n.prover, cfg.Preload); err != nil {
		return nil, err
	}
	auditPath := cfg.Audit
	if auditPath == "" {
		auditPath = filepath.Join(cfg.DataDir, "audit.log")
	}
	if err := os.MkdirAll(filepath.Dir(auditPath), 0o700); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if n.audit, err = server.OpenAudit(auditPath); err != nil {
		return nil, err
	}
	schedCfg := scheduler.Config{MaxQueued: cfg.MaxQueued, MaxAttempts: cfg.MaxAttempts, Retention: cfg.Retention, Logger: log,
		OnFinish: func(j *scheduler.Job) {
			if err := n.audit.Finished(j); err != nil {
				log.Error("audit log", "job", j.ID, "err", err)
			}
		}}
	if n.jobs.shared() {
		// Workers elsewhere prove with their own keys: pin each job to ours.
		schedCfg.VerifyingKey = n.verifyingKey
		schedCfg.Poll = 2 * time.Second
	}
	n.sched = scheduler.New(n.jobs.store, n.jobs.queue, schedCfg)
	recovered, err := n.sched.Recover(context.Background())
	if err != nil {
		return nil, err
	}
	n.stats = server.NewMetrics(server.MetricsSources{Waiting: n.sched.Waiting, Counts: n.jobs.counts,
		Busy: func() int { return n.pool.Busy() }, Slots: func() int { return n.pool.Slots() }})
	metrics := n.stats
	n.pool = worker.New(n.sched, n.prover, worker.Config{Slots: slots, Logger: log, Observe: metrics.Observe})
	if !cfg.pausedWorkers && slots > 0 {
		if err := n.jobs.start(); err != nil {
			return nil, err
		}
		n.pool.Start()
	}

	creds, err := cfg.TLS.credentials(cfg.Listen, log)
	if err != nil {
		return nil, err
	}
	signer, err := receiptSigner(cfg, log)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	n.addr = lis.Addr()
	opts := append(server.Interceptors(log, cfg.MaxInputBytes+64<<10), creds)
	if tenants != nil {
		opts = append(opts, server.Authenticate(tenants)...)
	}
	n.grpc = grpc.NewServer(opts...)
	pb.RegisterProverServer(n.grpc, server.New(n.sched, n.prover, server.Config{
		MaxInputBytes: cfg.MaxInputBytes, Logger: log, Devices: n.devices, Receipts: signer, Tenants: tenants, Audit: n.audit}))
	n.health = health.NewServer()
	healthpb.RegisterHealthServer(n.grpc, n.health)
	reflection.Register(n.grpc)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.grpc.Serve(lis); err != nil {
			log.Error("grpc serve", "err", err)
		}
	}()

	if cfg.MetricsListen != "" {
		mlis, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return nil, fmt.Errorf("serve: metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		n.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.metrics.Serve(mlis); !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics serve", "err", err)
			}
		}()
		log.Info("metrics", "url", "http://"+mlis.Addr().String()+"/metrics")
	}

	bg, stop := context.WithCancel(context.Background())
	n.stopTimer = stop
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.housekeeping(bg)
	}()
	if n.jobs.redisStore != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.jobs.redisStore.Subscribe(bg, n.sched.Notify) // wake watchers on other processes' changes
		}()
	}
	log.Info("serving", "grpc", n.addr.String(), "jobs", n.jobs.name, "workers", slots, "recovered_jobs", recovered, "keys", n.prover.Store().Dir)
	return n, nil
}

// housekeeping expires finished jobs and, on a shared queue, puts back in
// line any job a crashed server stored but did not queue. It runs until
// ctx ends.
func (n *node) housekeeping(ctx context.Context) {
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
		if n.jobs.shared() {
			if _, err := n.sched.Recover(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("requeue unfinished jobs", "err", err)
			}
		}
	}
}

// verifyingKey is the hash of the verifying key this server's proofs
// check against: the one workers must prove with.
func (n *node) verifyingKey(_ context.Context, id string) (string, error) {
	c, err := circuits.Lookup(id)
	if err != nil {
		return "", err
	}
	k, err := n.prover.Keys(c)
	if err != nil {
		return "", err
	}
	return k.VerifyingKeyHash(), nil
}

func preload(p *prover.Prover, which string) error {
	var ids []string
	switch which {
	case "none":
	case "present":
		for _, c := range circuits.All() {
			if _, err := p.Store().Manifest(c.ID); err == nil {
				ids = append(ids, c.ID)
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
		if _, err := p.Keys(c); err != nil {
			return err
		}
	}
	return nil
}

// devices lists this process's CPU pool, if it has one, and with Redis
// every worker process consuming the shared queue.
func (n *node) devices() []*pb.Device {
	var ds []*pb.Device
	switch {
	case len(n.gpus) > 0:
		ds = append(ds, &pb.Device{Id: "cpu", Kind: "cpu", Name: hwaccel.CPUDevice().Name + " (proves what the GPUs fail)", Healthy: true})
	case n.pool.Slots() > 0:
		ds = append(ds, &pb.Device{Id: "cpu", Kind: "cpu", Name: hwaccel.CPUDevice().Name,
			Slots: int32(n.pool.Slots()), Busy: int32(n.pool.Busy()), Healthy: true})
	}
	for _, d := range n.gpus {
		st := d.Status()
		busy := int32(0)
		if st.Busy {
			busy = 1
		}
		ds = append(ds, &pb.Device{Id: st.ID, Kind: st.Kind, Name: st.Name, Slots: 1, Busy: busy, Healthy: st.Healthy && st.Up,
			MemoryTotalBytes: st.MemoryTotal, MemoryFreeBytes: st.MemoryFree, Restarts: int32(st.Restarts), Failures: int32(st.Failures)})
	}
	if n.jobs.redisQueue == nil {
		return ds
	}
	workers, err := n.jobs.redisQueue.Workers()
	if err != nil {
		n.log.Warn("list workers", "err", err)
		return ds
	}
	host, _ := os.Hostname()
	for _, w := range workers {
		if w.PID == os.Getpid() && w.Host == host {
			continue // the pool above
		}
		ds = append(ds, &pb.Device{Id: fmt.Sprintf("worker:%s:%d", w.Host, w.PID), Kind: "cpu",
			Name:  fmt.Sprintf("proofmill worker on %s (pid %d, since %s)", w.Host, w.PID, w.Started.UTC().Format(time.RFC3339)),
			Slots: int32(w.Concurrency), Busy: int32(w.Held), Healthy: w.Status == "active"})
	}
	return ds
}

// shutdown stops in order: refuse new jobs and report NOT_SERVING; let
// running proofs finish (bounded by ctx; queued jobs stay journaled for the
// next start, or in Redis); hand unfinished ones back to a shared queue;
// stop gRPC, waiting briefly for calls in flight; then the metrics
// endpoint, the background loops and the job store.
func (n *node) shutdown(ctx context.Context) error {
	n.health.Shutdown()
	n.sched.Drain()
	poolErr := n.pool.Shutdown(ctx)
	n.jobs.stop() // hands back what the pool did not finish
	for _, d := range n.gpus {
		poolErr = errors.Join(poolErr, d.Shutdown(ctx))
	}
	stopped := make(chan struct{})
	go func() { n.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second): // watchers of queued jobs would wait forever
		n.grpc.Stop()
	}
	if n.metrics != nil {
		n.metrics.Close()
	}
	n.stopTimer()
	n.wg.Wait()
	err := errors.Join(poolErr, n.jobs.close(), n.audit.Close())
	n.log.Info("stopped", "err", err)
	return err
}

// closeAll releases what a failed start opened.
func (n *node) closeAll() {
	if n.grpc != nil {
		n.grpc.Stop()
	}
	if n.pool != nil {
		n.pool.Shutdown(context.Background())
	}
	if n.jobs != nil {
		n.jobs.stop()
		n.jobs.close()
	}
	for _, d := range n.gpus {
		d.Shutdown(context.Background())
	}
	if n.audit != nil {
		n.audit.Close()
	}
}
