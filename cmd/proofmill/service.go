package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/internal/buildinfo"
	"github.com/proofmill/proofmill/node"
)

// nodeFlags are the flags serve and worker share, meaning the same in both.
func nodeFlags(f *pflag.FlagSet, cfg *node.Config, role node.Role) {
	f.StringVar(&cfg.Redis, "redis", os.Getenv("PROOFMILL_REDIS"), "share jobs through Redis at `addr` (host:port or URI, see README) ($PROOFMILL_REDIS)")
	f.BoolVar(&cfg.RedisVolatile, "redis-volatile", false, "start on a Redis that may lose accepted jobs (appendonly no, an evicting maxmemory-policy, settings unreadable); refused without it")
	f.IntVar(&cfg.RedisMinReplicas, "redis-min-replicas", 0, "acknowledge a submission only once this many Redis replicas have it (WAIT); 0: no wait")
	f.DurationVar(&cfg.RedisReplicaTimeout, "redis-replica-timeout", time.Second, "how long a submission waits for --redis-min-replicas; fewer in time answer UNAVAILABLE")
	cfg.Workers = 0
	if v := os.Getenv("PROOFMILL_WORKERS"); v != "" {
		if n, err := parseWorkers(v); err == nil {
			cfg.Workers = n
		}
	}
	f.Var((*workersValue)(&cfg.Workers), "workers", "proofs this process runs at once: a number, 0 to size to the machine (one per GPU; none for serve --redis), or none to only admit jobs ($PROOFMILL_WORKERS)")
	f.IntVar(&cfg.MaxAttempts, "max-attempts", 3, "tries per job for retryable failures; servers and workers sharing Redis should agree")
	f.DurationVar(&cfg.Retention, "retention", 24*time.Hour, "how long finished jobs and their proofs are kept; servers and workers sharing Redis should agree")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running proofs may take before they are handed back")
	f.StringVar(&cfg.Preload, "preload", "present", "load keys at start: present (every circuit with keys), none, or ids")
	f.StringVar(&cfg.Tenants, "tenants", os.Getenv("PROOFMILL_TENANTS"), "tenant table `file` (JSON, see README) ($PROOFMILL_TENANTS)")
	f.StringVar(&cfg.MetricsListen, "metrics", envOr("PROOFMILL_METRICS", map[node.Role]string{node.Serve: "127.0.0.1:7421"}[role]), "Prometheus /metrics `address`; empty disables ($PROOFMILL_METRICS)")
	f.BoolVar(&cfg.IsolateCPU, "isolate-cpu", os.Getenv("PROOFMILL_ISOLATE_CPU") == "1", "prove CPU jobs in supervised worker processes, one per --workers slot, so that cancel stops a running proof at once "+
		"(its process is killed; a fresh one starts). Without it CPU proofs run in this process: a cancelled job ends cancelled at once, "+
		"but its proof runs on to its end, holding its slot, and is dropped (PROOFMILL_ISOLATE_CPU=1)")
	f.StringVar(&cfg.Pin, "pin", "none", "circuits whose proving keys stay in GPU memory: none, all, or ids "+
		"(none stays the default until a GPU run measures pinning faster: hwaccel/gpu/run.sh reports both)")
	f.IntVar(&cfg.ProcsPerGPU, "procs-per-gpu", 1, "supervised device processes per GPU (serve --gpus, worker --device): "+
		"one solves its next witness on the CPU while another's MSMs run; each holds its own copy of the keys in GPU memory")
	f.IntVar(&cfg.PinBudgetMiB, "pin-budget-mib", 0, "GPU memory pinned keys may take, in MiB; 0: no limit")
	f.StringVar(&cfg.ReceiptKey, "receipt-key", os.Getenv("PROOFMILL_RECEIPT_KEY"), "Ed25519 private key `file` (PKCS #8 PEM) that signs receipts where proofs are verified; "+
		map[node.Role]string{node.Serve: "made if missing; servers and workers sharing Redis share it", node.Worker: "the servers' key, required"}[role]+
		" (default receipt.key in --data) ($PROOFMILL_RECEIPT_KEY)")
	masterKeyFlags(f, cfg, map[node.Role]string{node.Serve: "master.key in --data, made if missing", node.Worker: "none: required unless --tenant's jobs come sealed"}[role])
	f.StringSliceVar(&cfg.InputKeys, "input-key", envList("PROOFMILL_INPUT_KEY"), "HPKE input key `file` that opens sealed inputs; repeatable. "+
		map[node.Role]string{node.Serve: "The first is the one GetInputKey publishes (default input.key in --data, made if missing)", node.Worker: "Sealed jobs need their key here"}[role]+" ($PROOFMILL_INPUT_KEY)")
	f.StringVar(&cfg.Audit, "audit", os.Getenv("PROOFMILL_AUDIT"), "append-only, hash-chained audit log `file` (default "+
		map[node.Role]string{node.Serve: "audit.log in --data", node.Worker: "none"}[role]+") ($PROOFMILL_AUDIT)")
}

// runNode runs a node until ctx ends (SIGTERM, Ctrl-C).
func runNode(ctx context.Context, e *env, cfg node.Config) error {
	cfg.KeysDir, cfg.Logger, cfg.Version = e.keys.Dir, e.log, buildinfo.Version()
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

func serveCmd(e *env) *cobra.Command {
	cfg := node.Config{Role: node.Serve}
	c := &cobra.Command{Use: "serve", Short: "Run the proving service: gRPC API, scheduler, job journal and CPU workers", Args: noArgs,
		Long: `serve runs the gRPC API on --listen over jobs in --data (or Redis) and proves them on CPU workers
(or --gpus). SIGTERM drains it: running proofs get --shutdown-timeout, queued jobs wait for the next start.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd.Context(), e, cfg) }}
	f := c.Flags()
	f.StringVar(&cfg.Listen, "listen", envOr("PROOFMILL_LISTEN", "127.0.0.1:7420"), "gRPC `address` ($PROOFMILL_LISTEN)")
	f.StringVar(&cfg.DataDir, "data", envOr("PROOFMILL_DATA", node.DefaultDataDir()), "`dir` of the job journal, audit log and receipt key ($PROOFMILL_DATA)")
	nodeFlags(f, &cfg, node.Serve)
	traceFlags(f, &cfg.Tracing, e.stdout)
	f.StringVar(&cfg.GPUs, "gpus", os.Getenv("PROOFMILL_GPUS"), "prove on GPUs, each in a supervised worker process: all, or ids like cuda:0,cuda:1 ($PROOFMILL_GPUS)")
	f.DurationVar(&cfg.DeviceTimeout, "device-timeout", 15*time.Minute, "a GPU proof running longer means the device hung: its worker is restarted and the job proved on the CPU")
	f.IntVar(&cfg.MaxQueued, "max-queued", 10_000, "jobs waiting at once before RESOURCE_EXHAUSTED")
	f.IntVar(&cfg.MaxInputBytes, "max-input", input.MaxDocumentBytes, "largest input_json in `bytes`; at most the document limit, the default (the same as for local prove)")
	f.BoolVar(&cfg.DevSetup, "dev-setup", true, "make development keys for a circuit the key store lacks (with a warning)")
	f.BoolVar(&cfg.Production, "production", false, "accept only keys whose ceremony transcript, kept by keys import, verifies; implies --dev-setup=false")
	f.StringVar(&cfg.TLS.CertFile, "tls-cert", os.Getenv("PROOFMILL_TLS_CERT"), "PEM certificate `file` of the server; with --tls-key, serve TLS ($PROOFMILL_TLS_CERT)")
	f.StringVar(&cfg.TLS.KeyFile, "tls-key", os.Getenv("PROOFMILL_TLS_KEY"), "PEM `file` of the certificate's private key ($PROOFMILL_TLS_KEY)")
	f.StringVar(&cfg.TLS.ClientCA, "client-ca", os.Getenv("PROOFMILL_CLIENT_CA"), "PEM `file` of the CA client certificates must chain to: mTLS ($PROOFMILL_CLIENT_CA)")
	f.BoolVar(&cfg.TLS.Insecure, "insecure", os.Getenv("PROOFMILL_INSECURE") == "1", "allow plaintext gRPC on a non-loopback --listen address (anyone on the network can read and submit) (PROOFMILL_INSECURE=1)")
	f.DurationVar(&cfg.DataKeyRotation, "data-key-rotation", 24*time.Hour, "make each tenant's next data key this often, so that stale copies of ended jobs' inputs become unreadable; 0: only by `keys data-key rotate`")
	limitFlags(f, &cfg.Limits)
	return c
}

// masterKeyFlags name the master key that wraps the data keys; the key
// itself may come in $PROOFMILL_MASTER_KEY, never on the command line.
func masterKeyFlags(f *pflag.FlagSet, cfg *node.Config, def string) {
	cfg.MasterKeyText = os.Getenv("PROOFMILL_MASTER_KEY")
	f.StringVar(&cfg.MasterKey, "master-key", os.Getenv("PROOFMILL_MASTER_KEY_FILE"), "`file` of the master key (base64) wrapping the data keys that encrypt inputs at rest; "+
		"$PROOFMILL_MASTER_KEY holds the key itself instead (default "+def+") ($PROOFMILL_MASTER_KEY_FILE)")
	f.StringSliceVar(&cfg.OldMasterKeys, "old-master-key", nil, "`file` of an earlier master key, to unwrap data keys until `keys data-key rotate --rewrap` moves them; repeatable")
}

// limitFlags are serve's per-client bounds (README: Limits per client).
func limitFlags(f *pflag.FlagSet, l *node.Limits) {
	d := node.DefaultLimits
	f.IntVar(&l.MaxConnections, "max-connections", d.MaxConnections, "connections open at once; more are refused as they arrive; -1: no cap")
	f.IntVar(&l.MaxStreams, "max-streams", d.MaxStreams, "calls open at once on one connection (HTTP/2 max concurrent streams); clients queue the rest")
	f.DurationVar(&l.HandshakeTimeout, "handshake-timeout", d.HandshakeTimeout, "a new connection's TLS and HTTP/2 handshake must finish within this, or it is closed")
	f.DurationVar(&l.IdleTimeout, "idle-timeout", d.IdleTimeout, "a connection without calls this long is sent GOAWAY; -1s: never")
	f.DurationVar(&l.KeepaliveTime, "keepalive-time", d.KeepaliveTime, "ping a connection silent this long; -1s: never")
	f.DurationVar(&l.KeepaliveTimeout, "keepalive-timeout", d.KeepaliveTimeout, "close a pinged connection that sends nothing within this")
	f.DurationVar(&l.MinPingInterval, "min-ping-interval", d.MinPingInterval, "a client pinging more often is sent GOAWAY (too_many_pings)")
	f.IntVar(&l.StreamWindow, "stream-window", d.StreamWindow, "`bytes` a client may send on one call before the server reads them (a fixed HTTP/2 window)")
	f.IntVar(&l.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "largest metadata (HTTP/2 header list) of one call, in `bytes`")
}

func workerCmd(e *env) *cobra.Command {
	cfg := node.Config{Role: node.Worker}
	var stdio bool
	c := &cobra.Command{Use: "worker", Short: "Prove jobs from a Redis queue shared with servers on other machines", Args: noArgs,
		Long: `worker proves jobs from --redis with its own key store, which must hold the servers' keys. SIGTERM
drains it: running proofs get --shutdown-timeout, the rest goes back in line. --device cuda:N proves
on that GPU here; serve --gpus runs "worker --device ID --stdio" for each of its GPUs.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stdio {
				if cfg.Device == "" {
					return usagef("--stdio needs --device")
				}
				if cfg.Tracing.Stdout != nil {
					return usagef("--trace-stdout with --stdio: stdout carries the device's protocol")
				}
				return node.ServeDevice(cmd.Context(), node.DeviceChild{Device: cfg.Device, KeysDir: e.keys.Dir, Pin: cfg.Pin, PinBudgetMiB: cfg.PinBudgetMiB, Logger: e.log})
			}
			return runNode(cmd.Context(), e, cfg)
		}}
	f := c.Flags()
	nodeFlags(f, &cfg, node.Worker)
	traceFlags(f, &cfg.Tracing, e.stdout)
	f.DurationVar(&cfg.Poll, "poll", 50*time.Millisecond, "how often an idle worker looks for jobs: the wait from submission to start (asynq polls Redis)")
	f.StringVar(&cfg.Device, "device", "", "prove on this device (cuda:N); the CPU proves what it cannot (default: the CPU only)")
	f.StringVar(&cfg.Tenant, "tenant", os.Getenv("PROOFMILL_TENANT"), "prove only this tenant's jobs (its queues in --tenants): a worker on the tenant's own machines ($PROOFMILL_TENANT)")
	f.BoolVar(&stdio, "stdio", false, "serve one --device to a parent process over stdin/stdout (serve --gpus runs this)")
	alias(c, "concurrency", "workers", "drain-timeout", "shutdown-timeout")
	return c
}

// healthCmd is a container's health check: exit 0 when the server answers
// SERVING. Its default address is this machine's $PROOFMILL_LISTEN port,
// so inside an image it finds the server with no flags.
func healthCmd(e *env) *cobra.Command {
	var r remote
	c := &cobra.Command{Use: "health", Short: "Exit 0 when a server's gRPC health check answers SERVING (for container health checks)", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := r.dial()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			if err := cl.Health(ctx); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "SERVING")
			return nil
		}}
	addr := "127.0.0.1:7420"
	if _, port, err := net.SplitHostPort(os.Getenv("PROOFMILL_LISTEN")); err == nil {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	r.add(c, envOr("PROOFMILL_SERVER", addr))
	return c
}

func devicesCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "devices", Short: "List the proving devices (CPU, GPUs) this binary can use here", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			inv := hwaccel.TakeInventory()
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(inv)
			}
			return inv.WriteTable(e.stdout)
		}}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// workersValue is --workers: a count, or "none" for a node that only
// admits (Config.Workers -1, which is accepted too).
type workersValue int

func (w *workersValue) String() string {
	if *w < 0 {
		return "none"
	}
	return strconv.Itoa(int(*w))
}

func (w *workersValue) Set(s string) error {
	n, err := parseWorkers(s)
	if err != nil {
		return err
	}
	*w = workersValue(n)
	return nil
}

func (*workersValue) Type() string { return "count|none" }

func parseWorkers(s string) (int, error) {
	if s == "none" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("%q is not a number of workers (0 sizes to the machine; none for no workers)", s)
	}
	return n, nil
}
