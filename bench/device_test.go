package bench

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// TestDeviceSections runs the device run's sections on the fault
// injection test device (fault:ok proves with gnark on the CPU) standing
// in for a GPU: the sweep on it, pinned and not; the service's device
// processes, one and two, against it raw; and the fault check, which kills
// a device process mid-proof and must see the job proved on the CPU.
func TestDeviceSections(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := Profile{
		Name: "tiny-device", SyntheticMinLog: 5, SyntheticMaxLog: 6, ProveRuns: 2,
		ProveDevices: []string{"fault:ok"}, PinVariants: true,
		DeviceServiceCircuit: "invoice-consistency/v1", DeviceServiceProofs: 2, DeviceConcurrency: []int{2}, ProcsPerGPU: []int{1, 2},
		FaultCheck: true, Order: []string{"fault", "device-service", "sweep"},
	}
	var opened []string
	open := func(id string, opts hwaccel.DeviceOptions) (hwaccel.Backend, hwaccel.Device, error) {
		opened = append(opened, id)
		return hwaccel.Fault{Mode: strings.TrimPrefix(id, "fault:")}, hwaccel.Device{ID: id}, nil
	}
	out := t.TempDir()
	var serverLog strings.Builder
	r, err := Run(t.Context(), Config{Profile: p, Out: out, KeysDir: testkeys.Dir(), Logger: quiet, Binary: proctest.Binary(t), openDevice: open,
		ServiceLog: slog.New(slog.NewTextHandler(&serverLog, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	if problems := CheckComplete(r); len(problems) > 0 {
		t.Fatalf("report problems: %q\nserver log: %s", problems, serverLog.String())
	}
	if !slices.Equal(opened, []string{"fault:ok", "fault:ok"}) {
		t.Errorf("opened %v, want the device unpinned and pinned", opened)
	}
	if got := r.proveDevices(); !slices.Equal(got, []string{"cpu", "fault:ok", "fault:ok+pin"}) {
		t.Errorf("sweep devices %v", got)
	}
	if f := r.Fault; f == nil || f.KilledPID == 0 || f.Backend != "cpu" || !f.Verified || f.Restarts < 1 {
		t.Errorf("fault check: %+v", f)
	}
	if len(r.DeviceService) != 2 || r.DeviceService[1].ProcsPerGPU != 2 {
		t.Errorf("device service: %+v", r.DeviceService)
	}
	if !r.DryRun {
		t.Error("no GPU measured, a device from the profile: not marked a dry run")
	}
	md := string(r.Markdown())
	for _, want := range []string{"Dry run on ICICLE's CPU backend", "## Fault check", "## Service on the device vs raw ICICLE Prove", "fault:ok+pin"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

// With the time budget spent, the remaining sections are skipped and
// noted, and the check accepts a report that says so.
func TestTimeBudgetSkips(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := Profile{Name: "late", SyntheticMinLog: 5, SyntheticMaxLog: 6, ProveRuns: 1, Circuits: []string{"invoice-consistency/v1"},
		MSMMinLog: 6, MSMMaxLog: 7, PrimitiveRuns: 1}
	r, err := Run(t.Context(), Config{Profile: p, Out: t.TempDir(), KeysDir: testkeys.Dir(), Logger: quiet, Deadline: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sweep) != 0 || len(r.Primitives) != 0 || len(r.Skipped) != 2 {
		t.Fatalf("past the deadline: sweep %d, primitives %d, skipped %q", len(r.Sweep), len(r.Primitives), r.Skipped)
	}
	for _, s := range r.Skipped {
		if !strings.Contains(s, "time budget") {
			t.Errorf("skipped without a reason: %q", s)
		}
	}
	if problems := CheckComplete(r); slices.ContainsFunc(problems, func(s string) bool { return strings.HasPrefix(s, "sweep") }) {
		t.Errorf("the check holds the skipped sweep against the report: %q", problems)
	}
}

// The device run's profiles are valid, and --time-budget sets the run's
// deadline.
func TestDeviceProfiles(t *testing.T) {
	for _, name := range []string{"gpu", "gpu-dry"} {
		cfg, err := Plan{Profile: name, TimeBudget: time.Minute}.Config()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := cfg.Profile.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if left := time.Until(cfg.Deadline); left <= 0 || left > time.Minute {
			t.Errorf("%s: deadline %s away, want within the minute", name, left)
		}
	}
	bad := GPURun()
	bad.Order = []string{"primitives", "warp-drive"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "warp-drive") {
		t.Errorf("an unknown section in the order: %v", err)
	}
}
