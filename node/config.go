package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/server"
	"github.com/proofmill/proofmill/worker"
)

// Role is what a node does.
type Role int

const (
	// Serve runs the gRPC API and the scheduler; with the embedded journal
	// it also proves in-process, and with Redis only if Workers says so.
	Serve Role = iota
	// Worker takes jobs from Redis and proves them; it serves no API.
	Worker
)

func (r Role) String() string {
	if r == Worker {
		return "worker"
	}
	return "serve"
}

// Config is everything a node takes. The zero value of each field means
// what its comment says; Listen (serve) or Redis (worker) must be set.
type Config struct {
	Role    Role
	Logger  *slog.Logger // nil: slog.Default()
	Version string       // proofmill's version, stated in receipts; "": "devel"

	// Jobs.
	// DataDir holds the embedded journal (jobs.db), and by default the audit
	// log and the receipt key. "": ~/.local/share/proofmill. A worker uses
	// it for nothing unless Audit names a file in it.
	DataDir string
	// Redis keeps jobs in Redis at this address (see redisq.Dial), shared
	// with other servers and workers; "": the embedded journal (serve only).
	Redis       string
	MaxQueued   int           // jobs waiting at each priority before RESOURCE_EXHAUSTED; 0: 10,000
	MaxAttempts int           // tries per job for retryable failures; 0: 3
	Retention   time.Duration // how long finished jobs are kept; 0: 24h
	Poll        time.Duration // how often an idle Redis consumer looks for jobs; 0: redisq's default (50ms)
	// ShutdownTimeout bounds Run's shutdown: how long running proofs may
	// take before they are handed back. 0: 30s.
	ShutdownTimeout time.Duration

	// Redis durability.
	// RedisVolatile starts on a Redis that may lose accepted jobs (no
	// append-only file, an evicting maxmemory-policy, or settings that
	// cannot be read), with a warning; false refuses to start on one.
	RedisVolatile bool
	// RedisMinReplicas is how many replicas must have a submission (Redis
	// WAIT) before it is acknowledged; 0: none waited for.
	RedisMinReplicas int
	// RedisReplicaTimeout bounds that wait; fewer acknowledgements in time
	// answer UNAVAILABLE. 0: 1s.
	RedisReplicaTimeout time.Duration

	// Proving.
	KeysDir string // the key store; "": prover.DefaultKeyDir()
	// Workers is how many proofs this process runs at once. 0 sizes it:
	// worker.DefaultSlots(), or one per GPU with GPUs; a server on Redis
	// runs none. Negative: none.
	Workers    int
	DevSetup   bool   // make development keys for a circuit the store lacks (with a warning)
	Production bool   // refuse keys not from a ceremony; make none
	Preload    string // keys to load at start: "" or "present" (every circuit with keys), "none", or ids
	// GPUs (serve): "all", or ids like "cuda:0,cuda:1": prove on GPUs, each in
	// a supervised worker process of its own; "": none.
	GPUs string
	// Device (worker): prove on this device ("cuda:0") in this process;
	// "": the CPU.
	Device        string
	DeviceTimeout time.Duration // a GPU (or isolated CPU) proof running longer means the device hung; 0: 15m
	Pin           string        // circuits whose proving keys stay in GPU memory: "", "none", "all", or ids
	PinBudgetMiB  int           // the GPU memory pinned keys may take; 0: no limit
	// IsolateCPU proves CPU jobs in supervised worker processes (`worker
	// --device cpu --stdio`, one per slot), as GPUs are: cancelling a running
	// job kills its process, which stops the proof at once and frees the
	// slot; a fresh process starts and loads the keys again. With GPUs the
	// CPU that proves what they fail is isolated so. false: CPU proofs run
	// in this process, where a cancelled job ends cancelled at once but its
	// proof runs on to its end (its result dropped), holding its slot.
	// DeviceTimeout bounds an isolated CPU proof as it does a GPU's.
	IsolateCPU bool
	// ProcsPerGPU is how many supervised device processes each GPU gets
	// (serve --gpus; a worker's --device when above 1, which then proves
	// in children, not in-process): gnark serializes a device's work within
	// one process, so a second one solves its next witness on the CPU
	// while the first one's MSMs run. Each proof is still verified before
	// release. 0: 1.
	ProcsPerGPU int
	// Executable is the proofmill binary GPU worker processes run (`devices
	// --json` to discover, `worker --device ID --stdio` to prove); "": this
	// process's own.
	Executable string

	// The API (serve).
	Listen        string // gRPC address, e.g. 127.0.0.1:7420; port 0 picks one
	MetricsListen string // Prometheus /metrics address; "": none
	MaxInputBytes int    // largest input_json; 0: input.MaxDocumentBytes (4 MiB), also the most it may be
	TLS           TLS
	Tenants       string // tenant table file; "": no tenants (one anonymous caller)
	ReceiptKey    string // Ed25519 key signing receipts, made if missing; "": receipt.key in DataDir
	// Audit is the audit log. "": audit.log in DataDir for a server, none
	// for a worker.
	Audit string
	// Documents at rest and sealed (see package vault and api/sealed).
	// MasterKey is the file of the master key wrapping the data keys that
	// encrypt inputs at rest. "": master.key in DataDir, made with a
	// warning if missing (serve); a worker must be given the servers' key,
	// unless it has a Tenant whose jobs come sealed.
	MasterKey string
	// MasterKeyText is the master key itself, in base64
	// ($PROOFMILL_MASTER_KEY); it wins over MasterKey.
	MasterKeyText string
	// OldMasterKeys only unwrap: data keys an earlier master key wraps,
	// while `keys data-key rotate --rewrap` moves them to MasterKey.
	OldMasterKeys []string
	// DataKeyRotation (serve) makes every tenant's next data key this
	// often, so that stale copies of ended jobs' inputs become unreadable
	// once their keys are destroyed; 0: only by `keys data-key rotate`.
	// Versions no unfinished job uses are destroyed either way.
	DataKeyRotation time.Duration
	// InputKeys are the HPKE input keys sealed inputs open with. A server
	// publishes the first (GetInputKey); "" or none: input.key in DataDir,
	// made if missing. A worker opens the sealed jobs of any it holds.
	InputKeys []string
	// Tenant (worker) dedicates the worker to one tenant of the table: it
	// consumes that tenant's queues only.
	Tenant string
	// Tracing is where the node's OpenTelemetry spans go: one trace per
	// job, from the RPC through admission, the wait in line and the
	// attempts, across processes on Redis. The zero value traces nothing.
	Tracing Tracing
	// Limits bound what one client can hold of the server: connections,
	// calls per connection, handshake, idle and keepalive times, windows.
	// Each zero field takes its DefaultLimits value.
	Limits Limits

	// holdWorkers starts the pool only at startWorkers: tests hold the
	// queue still.
	holdWorkers bool
	// plainInputs stores witnesses unencrypted: tests' control only.
	plainInputs bool
	// beforeRecovery, when set, runs before the start's recovery: tests
	// hold it to see the server while it recovers.
	beforeRecovery func()
}

// Limits are a server's per-client bounds (server.Limits).
type Limits = server.Limits

// DefaultLimits are the bounds a zero Limits field takes: 1,000
// connections, 100 calls per connection, a 10 s handshake, GOAWAY after 5
// minutes idle, a ping after 1 minute silent answered within 20 s,
// clients' pings at most every 15 s, 64 KiB per call's window, 16 KiB of
// metadata.
var DefaultLimits = server.DefaultLimits

// TLS is how a server secures its gRPC listener.
type TLS struct {
	CertFile, KeyFile string
	ClientCA          string // mTLS: client certificates must chain to it
	Insecure          bool   // plaintext on a non-loopback address, explicitly
}

// DefaultDataDir is ~/.local/share/proofmill.
func DefaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "proofmill")
	}
	return "proofmill-data"
}

// resolved fills the zero values and checks the combination.
func (c Config) resolved() (Config, error) {
	usage := func(format string, args ...any) (Config, error) {
		return c, errcode.Errorf(errcode.Usage, format, args...)
	}
	switch {
	case c.Role == Serve && c.Listen == "":
		return usage("serve: a listen address is required")
	case c.Role == Worker && c.Redis == "":
		return usage("worker: --redis is required")
	case c.Role == Worker && c.Workers < 0:
		return usage("worker: --workers none: a worker proves at least one job at a time")
	case c.Role == Worker && c.GPUs != "":
		return usage("worker: --gpus is for serve; a worker proves on one --device")
	case c.Role == Serve && c.Device != "":
		return usage("serve: --device is for worker; serve proves on --gpus")
	case c.IsolateCPU && c.Device != "":
		return usage("worker: --isolate-cpu is for the CPU; --device %s proves in this process", c.Device)
	case c.Role == Serve && c.Tenant != "":
		return usage("serve: --tenant is for worker: a worker on one tenant's machines")
	case c.Tenant != "" && c.Tenants == "":
		return usage("worker: --tenant %s needs the servers' --tenants table, which names the tenant's queues", c.Tenant)
	case c.ProcsPerGPU < 0 || c.ProcsPerGPU > MaxProcsPerGPU:
		return usage("--procs-per-gpu %d: from 1 to %d device processes per GPU", c.ProcsPerGPU, MaxProcsPerGPU)
	case c.ProcsPerGPU > 1 && c.GPUs == "" && c.Device == "":
		return usage("--procs-per-gpu %d needs GPUs to run on (serve --gpus, or worker --device)", c.ProcsPerGPU)
	case c.DataKeyRotation < 0:
		return usage("--data-key-rotation %s may not be negative", c.DataKeyRotation)
	case c.RedisMinReplicas < 0 || c.RedisReplicaTimeout < 0:
		return usage("--redis-min-replicas %d, --redis-replica-timeout %s: neither may be negative", c.RedisMinReplicas, c.RedisReplicaTimeout)
	}
	if c.Role == Serve {
		var err error
		if c.Limits, err = c.Limits.Resolved(); err != nil {
			return c, err
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Version == "" {
		c.Version = "devel"
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir()
	}
	switch {
	case c.MaxInputBytes == 0:
		c.MaxInputBytes = input.MaxDocumentBytes
	case c.MaxInputBytes < 0 || c.MaxInputBytes > input.MaxDocumentBytes:
		return usage("--max-input %d: from 1 to %d bytes, the largest document a circuit decodes", c.MaxInputBytes, input.MaxDocumentBytes)
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = 10_000
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Preload == "" {
		c.Preload = "present"
	}
	if c.Role == Serve && c.Audit == "" {
		c.Audit = filepath.Join(c.DataDir, "audit.log")
	}
	if c.Role == Serve && (len(c.InputKeys) == 0 || c.InputKeys[0] == "") {
		c.InputKeys = append([]string{filepath.Join(c.DataDir, "input.key")}, c.InputKeys[min(1, len(c.InputKeys)):]...)
	}
	if c.ReceiptKey == "" {
		c.ReceiptKey = filepath.Join(c.DataDir, "receipt.key")
	}
	if c.Production {
		c.DevSetup = false
	}
	return c, nil
}

// slots is how many proofs this process runs at once, given the GPUs it
// started.
func (c Config) slots(gpus int) int {
	switch {
	case c.Workers < 0:
		return 0
	case c.Workers > 0:
		return c.Workers
	case gpus > 0:
		return gpus // one job per device; the CPU takes their failures
	case c.Role == Serve && c.Redis != "":
		return 0 // workers elsewhere prove
	}
	return worker.DefaultSlots()
}

func (c Config) jobsName() string {
	if c.Redis != "" {
		return "redis " + c.Redis
	}
	return JournalPath(c.DataDir)
}
