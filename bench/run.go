package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/proofmill/proofmill/hwaccel"
)

// Config is one run of the harness.
type Config struct {
	Profile Profile
	// Out is the report folder; it is created if missing, and its
	// report.json, README.md and charts/ are replaced.
	Out string
	// KeysDir is the key store the service benchmark proves with;
	// development keys are made for its circuit when missing. Empty: the
	// default key store.
	KeysDir string
	// ServiceLog gets the log of the servers the harness starts; nil
	// discards it.
	ServiceLog *slog.Logger
	// ICICLEDevices are measured in the primitives section besides the
	// GPUs found: "icicle-cpu" runs the GPU code path on ICICLE's CPU
	// backend.
	ICICLEDevices []string
	// Binary is the proofmill executable the admission section runs
	// `serve` from, and the device sections' servers run as their device
	// processes. Empty: this process's own executable (the `bench`
	// command's).
	Binary string
	// Version is proofmill's version, for the report.
	Version string
	// Logger gets a line as each step starts. Nil: slog.Default().
	Logger *slog.Logger
	// Deadline ends the run's measuring: a section, circuit or size that
	// would run past it is skipped and noted in the report. Zero: none.
	Deadline time.Time

	// openDevice, for tests, opens a device in this process (the raw side
	// of the device sections); nil: hwaccel.Open.
	openDevice func(id string, opts hwaccel.DeviceOptions) (hwaccel.Backend, hwaccel.Device, error)

	// plant, for tests, runs after each service proof, given its latency
	// and the process's CPU time over it (÷ concurrency: about one
	// proof's): it adds work to the service side, a regression the check
	// must catch.
	plant func(latency, cpu time.Duration)
}

type harness struct {
	cfg        Config
	serviceLog *slog.Logger
	profile    Profile
	report     *Report
	backends   []hwaccel.Backend // the CPU, then each GPU
	scratch    string            // keys written by the sweep
	started    time.Time
}

func (h *harness) logf(format string, args ...any) {
	h.cfg.Logger.Info(fmt.Sprintf(format, args...), "elapsed", time.Since(h.started).Round(100*time.Millisecond))
}

// section is one part of the report.
type section struct {
	name string
	run  func(*harness, context.Context) error
	on   func(Profile) bool
}

var sections = []section{
	{"sweep", (*harness).sweep, func(p Profile) bool { return len(p.Circuits) > 0 || p.SyntheticMaxLog > 0 }},
	{"service", (*harness).serviceOverhead, func(p Profile) bool { return p.ProofsPerLevel > 0 }},
	{"primitives", (*harness).primitives, func(p Profile) bool { return p.MSMMaxLog > 0 || p.NTTMaxLog > 0 }},
	{"load", (*harness).load, func(p Profile) bool { return p.QueuedJobs > 0 }},
	{"admission", (*harness).admission, func(p Profile) bool { return p.AdmissionCallers > 0 }},
	{"device-service", (*harness).deviceService, func(p Profile) bool { return p.DeviceServiceProofs > 0 }},
	{"fault", (*harness).faultCheck, func(p Profile) bool { return p.FaultCheck }},
}

// ordered is the sections in the profile's order.
func ordered(p Profile) []section {
	if len(p.Order) == 0 {
		return sections
	}
	var out []section
	for _, name := range p.Order {
		for _, s := range sections {
			if s.name == name {
				out = append(out, s)
			}
		}
	}
	for _, s := range sections { // those the order leaves out, after it
		if !slices.Contains(p.Order, s.name) {
			out = append(out, s)
		}
	}
	return out
}

// Run measures every section of the profile and writes the report folder.
// A section that fails is noted in the report (and Check then fails it);
// the others still run. The error is for what stops the whole run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Profile.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(cfg.Out, "charts"), 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	scratch, err := os.MkdirTemp("", "proofmill-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(scratch)

	h := &harness{cfg: cfg, profile: cfg.Profile, scratch: scratch, started: time.Now(), serviceLog: cfg.ServiceLog,
		report: &Report{Started: time.Now().UTC(), Profile: cfg.Profile}}
	if h.serviceLog == nil {
		h.serviceLog = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h.report.Machine, h.report.Notes = describeMachine(cfg.Version)
	if h.cfg.openDevice == nil {
		h.cfg.openDevice = hwaccel.Open
	}
	h.openBackends()
	// Devices measured, none of them a GPU: ICICLE's CPU backend stands in.
	h.report.DryRun = len(h.report.Machine.GPUs) == 0 && len(h.profile.ProveDevices) > 0

	for _, s := range ordered(h.profile) {
		if !s.on(h.profile) {
			continue
		}
		if h.pastDeadline() {
			h.report.Skipped = append(h.report.Skipped, fmt.Sprintf("%s: skipped, the run's time budget was spent", s.name))
			h.logf("section %s: skipped, no time left", s.name)
			continue
		}
		h.logf("section %s", s.name)
		if err := s.run(h, ctx); err != nil {
			if ctx.Err() != nil {
				return nil, errors.Join(ctx.Err(), err)
			}
			h.cfg.Logger.Error("section failed", "section", s.name, "err", err)
			h.report.Failures = append(h.report.Failures, fmt.Sprintf("%s: failed: %v", s.name, err))
		}
	}
	h.report.Seconds = seconds(time.Since(h.started))
	return h.report, h.report.Write(cfg.Out)
}

// gpuPrimitiveDevices are the GPUs found, then the extra ICICLE devices.
func (h *harness) gpuPrimitiveDevices() []string {
	var ids []string
	for _, g := range h.report.Machine.GPUs {
		ids = append(ids, g.ID)
	}
	return append(ids, h.cfg.ICICLEDevices...)
}

// Write writes report.json, README.md and the charts into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := r.WriteJSON(filepath.Join(dir, "report.json")); err != nil {
		return err
	}
	for _, c := range r.charts() {
		if err := os.WriteFile(filepath.Join(dir, "charts", c.file), c.chart.SVG(), 0o644); err != nil {
			return fmt.Errorf("bench: chart: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), r.Markdown(), 0o644); err != nil {
		return fmt.Errorf("bench: summary: %w", err)
	}
	return nil
}
