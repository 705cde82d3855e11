package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/proofmill/proofmill/bench"
)

// errBenchCheck: the report is incomplete or implausible.
var errBenchCheck = errors.New("benchmark report check failed")

// runBench runs the benchmark harness, or with --check checks a report.
func runBench(ctx context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "bench")
	check := fs.String("check", "", "only check the report in `dir`: complete, with sane ratios")
	quick := fs.Bool("quick", false, "the quick profile: under 2 minutes on 2 cores (same as --profile quick)")
	profile := fs.String("profile", "full", "what to measure: quick, or full (for GPU servers; an hour or more on a small CPU)")
	out := fs.String("out", "", "report `dir` (default proofmill-bench-PROFILE-DATE)")
	serviceCircuit := fs.String("service-circuit", "", "circuit `id` the service section proves (default: the profile's)")
	budget := fs.Duration("budget", 0, "time the synthetic size sweep may take before it stops doubling; 0: the profile's")
	icicle := fs.String("icicle-device", "", "also measure MSM and NTT through ICICLE on these devices, e.g. icicle-cpu: ICICLE's CPU backend, a slow reference (minutes at 2^20) for checking the GPU code path without a GPU; needs -tags icicle")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *check != "" {
		if err := reportProblems(e, *check); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: complete\n", *check)
		return nil
	}
	if *quick {
		*profile = "quick"
	}
	mk, ok := bench.Profiles[*profile]
	if !ok {
		return fmt.Errorf("%w: unknown profile %q (quick, full)", errUsage, *profile)
	}
	if *out == "" {
		*out = fmt.Sprintf("proofmill-bench-%s-%s", *profile, time.Now().Format("20060102-150405"))
	}
	cfg := bench.Config{Profile: mk(), Out: *out, KeysDir: *keysDir, Version: version(), Logger: e.log, StartService: benchService(e)}
	if *budget > 0 {
		cfg.Profile.SweepBudget = *budget
	}
	if *serviceCircuit != "" {
		cfg.Profile.ServiceCircuit = *serviceCircuit
	}
	if *icicle != "" {
		cfg.ICICLEDevices = strings.Split(*icicle, ",")
	}
	e.log.Info("benchmark", "profile", cfg.Profile.Name, "out", *out)
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	for _, h := range r.Headline() {
		fmt.Fprintln(e.stdout, h)
	}
	fmt.Fprintf(e.stdout, "report: %s/README.md (%.0f s)\n", *out, r.Seconds)
	return reportProblems(e, *out)
}

func reportProblems(e *env, dir string) error {
	_, problems, err := bench.CheckDir(dir)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "check: %s\n", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %d problems in %s", errBenchCheck, len(problems), dir)
	}
	return nil
}

// benchService starts the embedded server as `proofmill serve` does, on a
// loopback port with a journal in a temporary folder, logging errors only.
func benchService(e *env) bench.ServiceStarter {
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return func(_ context.Context, opt bench.ServiceOptions) (bench.Service, error) {
		dir, err := os.MkdirTemp("", "proofmill-bench-data-")
		if err != nil {
			return nil, err
		}
		cfg := serveConfig{Listen: "127.0.0.1:0", DataDir: dir, KeysDir: opt.KeysDir, MaxQueued: 10_000, MaxAttempts: 3,
			Retention: time.Hour, MaxInputBytes: 1 << 20, ShutdownTimeout: time.Minute, DevSetup: true, Preload: "none",
			pausedWorkers: opt.NoWorkers}
		if opt.MaxQueued > 0 {
			cfg.MaxQueued = opt.MaxQueued
		}
		if opt.Preload != "" {
			cfg.Preload = opt.Preload
		}
		n, err := startNode(cfg, log)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return &embeddedService{n: n, dir: dir, paused: opt.NoWorkers}, nil
	}
}

type embeddedService struct {
	n      *node
	dir    string
	paused bool
}

func (s *embeddedService) Addr() string { return s.n.addr.String() }

func (s *embeddedService) Workers() int {
	if s.paused {
		return 0
	}
	return s.n.pool.Slots()
}

func (s *embeddedService) Close(ctx context.Context) error {
	err := s.n.shutdown(ctx)
	return errors.Join(err, os.RemoveAll(s.dir))
}
