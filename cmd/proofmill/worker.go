package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/server"
	"github.com/proofmill/proofmill/worker"
)

// runWorker proves jobs from Redis until SIGTERM, then drains: running
// proofs get --drain-timeout to finish, and whatever is left goes back in
// line for another worker.
func runWorker(ctx context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "worker")
	redisAddr := fs.String("redis", os.Getenv("PROOFMILL_REDIS"), "Redis `addr` to take jobs from: host:port or URI, see README ($PROOFMILL_REDIS)")
	concurrency := fs.Int("concurrency", envInt("PROOFMILL_WORKERS", 0), "proofs at once; 0 sizes to the machine ($PROOFMILL_WORKERS)")
	maxAttempts := fs.Int("max-attempts", 3, "tries per job; keep it equal to the servers'")
	retention := fs.Duration("retention", 24*time.Hour, "how long finished jobs and proofs are kept; keep it equal to the servers'")
	drain := fs.Duration("drain-timeout", 30*time.Second, "on SIGTERM, how long running proofs may take before they are handed back")
	poll := fs.Duration("poll", 50*time.Millisecond, "how often an idle worker looks for jobs: the wait from submission to start (asynq polls Redis)")
	preloadKeys := fs.String("preload", "present", "load keys at start: present (every circuit with keys), none, or ids")
	device := fs.String("device", "", "prove on this device (cuda:N); the CPU proves what it cannot (default: the CPU only)")
	stdio := fs.Bool("stdio", false, "serve one device to a parent process over stdin/stdout (serve --gpus runs this)")
	pin := fs.String("pin", "none", "circuits whose proving keys stay in GPU memory: none, all, or ids")
	pinBudget := fs.Int("pin-budget-mib", 0, "GPU memory pinned keys may take, in MiB; 0: no limit")
	tenantsFile := fs.String("tenants", os.Getenv("PROOFMILL_TENANTS"), "the servers' tenant table `file`: each tenant's jobs are served from queues of their own, by weight ($PROOFMILL_TENANTS)")
	auditPath := fs.String("audit", os.Getenv("PROOFMILL_AUDIT"), "append-only audit `file` of the jobs this worker finishes; empty: none ($PROOFMILL_AUDIT)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *stdio {
		if *device == "" {
			return fmt.Errorf("%w: --stdio needs --device", errUsage)
		}
		return serveDevice(ctx, e, *device, *keysDir, *pin, *pinBudget)
	}
	if *redisAddr == "" {
		return fmt.Errorf("%w: --redis is required", errUsage)
	}
	slots := *concurrency
	if slots <= 0 {
		slots = worker.DefaultSlots()
	}
	// Keys come only from the key store: development keys made here would
	// not match the servers', and every job would be refused.
	pcfg := prover.Config{Store: prover.KeyStore{Dir: *keysDir}, Logger: e.log}
	if *device != "" {
		// In this process: if the device takes the process down, asynq
		// hands its job to another worker once the lease lapses.
		b, dev, err := hwaccel.Open(*device, hwaccel.DeviceOptions{Pin: pinPolicy(*pin, *pinBudget)})
		if err != nil {
			return err
		}
		pcfg.Backend = b
		e.log.Info("device", "id", dev.ID, "name", dev.Name)
	}
	p, err := prover.New(pcfg)
	if err != nil {
		return err
	}
	if err := preload(p, *preloadKeys); err != nil {
		return err
	}
	var weights map[string]int
	if *tenantsFile != "" {
		ts, err := server.LoadTenants(*tenantsFile)
		if err != nil {
			return err
		}
		weights = ts.Weights()
	}
	jobs, err := openRedis(*redisAddr, slots, *poll, *retention, weights, e.log)
	if err != nil {
		return err
	}
	schedCfg := scheduler.Config{MaxAttempts: *maxAttempts, Retention: *retention, Logger: e.log}
	if *auditPath != "" {
		audit, err := server.OpenAudit(*auditPath)
		if err != nil {
			jobs.close()
			return err
		}
		defer audit.Close()
		schedCfg.OnFinish = func(j *scheduler.Job) {
			if err := audit.Finished(j); err != nil {
				e.log.Error("audit log", "job", j.ID, "err", err)
			}
		}
	}
	sched := scheduler.New(jobs.store, jobs.queue, schedCfg)
	pool := worker.New(sched, p, worker.Config{Slots: slots, Logger: e.log})
	if err := jobs.start(); err != nil {
		jobs.close()
		return err
	}
	pool.Start()
	e.log.Info("worker ready", "redis", *redisAddr, "concurrency", slots, "keys", p.Store().Dir, "pid", os.Getpid())

	<-ctx.Done()
	e.log.Info("draining", "bound", *drain, "running", pool.Busy())
	dctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	poolErr := pool.Shutdown(dctx)
	jobs.stop() // jobs still proving go back in line
	err = errors.Join(poolErr, jobs.close())
	e.log.Info("worker stopped", "err", err)
	return err
}
