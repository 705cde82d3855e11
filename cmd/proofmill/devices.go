package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
)

// runDevices lists the proving devices this binary can drive on this
// machine. It loads GPU drivers into its own process: `serve --gpus all`
// runs it as a child to discover devices without loading them itself.
func runDevices(_ context.Context, e *env, args []string) error {
	fs, _ := flags(e, "devices")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	gpus, err := hwaccel.Discover()
	note := ""
	switch {
	case err != nil: // no GPU support built in, or ICICLE's backend is not found
		note = err.Error()
		if !errors.Is(err, hwaccel.ErrNoGPUSupport) {
			note += " (is $ICICLE_BACKEND_INSTALL_DIR set? see README, GPUs)"
		}
	case len(gpus) == 0:
		note = "GPU support is built in, but no GPU was found"
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(struct {
			CPU  hwaccel.Device   `json:"cpu"`
			GPUs []hwaccel.Device `json:"gpus"`
			Note string           `json:"note,omitempty"`
		}{hwaccel.CPUDevice(), gpus, note})
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tKIND\tNAME\tMEMORY")
	for _, d := range append([]hwaccel.Device{hwaccel.CPUDevice()}, gpus...) {
		mem := ""
		if d.MemoryTotal > 0 {
			mem = fmt.Sprintf("%.1f GiB (%.1f free)", float64(d.MemoryTotal)/(1<<30), float64(d.MemoryFree)/(1<<30))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.ID, d.Kind, d.Name, mem)
	}
	w.Flush()
	if note != "" {
		fmt.Fprintln(e.stdout, note)
	}
	return nil
}

// discoverGPUs runs `proofmill devices --json` in a child process and
// returns the GPUs it found.
func discoverGPUs(ctx context.Context) ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "devices", "--json")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("discover GPUs: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var found struct {
		GPUs []hwaccel.Device `json:"gpus"`
		Note string           `json:"note"`
	}
	// Decode the first value only: C libraries may print after it.
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&found); err != nil {
		return nil, fmt.Errorf("discover GPUs: %w", err)
	}
	if len(found.GPUs) == 0 {
		return nil, fmt.Errorf("--gpus all: %s", found.Note)
	}
	var ids []string
	for _, d := range found.GPUs {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// deviceConfig is how serve runs its GPU workers.
type deviceConfig struct {
	GPUs         string        // "", "all", or ids: "cuda:0,cuda:1"
	ProofTimeout time.Duration // a proof longer than this means the device hung
	Pin          string        // circuits whose keys stay in GPU memory: "none", "all", or ids
	PinBudgetMiB int           // the most GPU memory pinned keys may take; 0: no limit
}

// startDevices starts one supervised worker process per GPU.
func startDevices(ctx context.Context, cfg deviceConfig, keysDir string, e *env) ([]*hwaccel.Isolated, error) {
	if cfg.GPUs == "" {
		return nil, nil
	}
	ids := strings.Split(cfg.GPUs, ",")
	if cfg.GPUs == "all" {
		var err error
		if ids, err = discoverGPUs(ctx); err != nil {
			return nil, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if keysDir == "" {
		if keysDir, err = prover.DefaultKeyDir(); err != nil {
			return nil, err
		}
	}
	var ds []*hwaccel.Isolated
	for _, id := range ids {
		id := strings.TrimSpace(id)
		d := hwaccel.NewIsolated(hwaccel.IsolatedConfig{
			Device: id,
			Command: func() *exec.Cmd {
				return exec.Command(self, "worker", "--device", id, "--stdio", "--keys", keysDir,
					"--pin", cfg.Pin, "--pin-budget-mib", strconv.Itoa(cfg.PinBudgetMiB))
			},
			ProofTimeout: cfg.ProofTimeout,
			Logger:       e.log,
		})
		d.Start()
		ds = append(ds, d)
	}
	return ds, nil
}

// pinPolicy decides which circuits' keys stay in GPU memory.
func pinPolicy(which string, budgetMiB int) func(circuit string, bytes, pinned uint64) bool {
	if which == "" || which == "none" {
		return nil
	}
	chosen := map[string]bool{}
	for _, id := range strings.Split(which, ",") {
		chosen[strings.TrimSpace(id)] = true
	}
	return func(circuit string, bytes, pinned uint64) bool {
		if !chosen["all"] && !chosen[circuit] {
			return false
		}
		return budgetMiB == 0 || pinned+bytes <= uint64(budgetMiB)<<20
	}
}

// serveDevice is `worker --device ID --stdio`: the child side of an
// isolated device, proving what its parent sends on stdin.
func serveDevice(ctx context.Context, e *env, id, keysDir, pin string, budgetMiB int) error {
	out, err := protocolStdout() // before the device's libraries load
	if err != nil {
		return err
	}
	b, dev, err := hwaccel.Open(id, hwaccel.DeviceOptions{Pin: pinPolicy(pin, budgetMiB)})
	if err != nil {
		return err
	}
	store := prover.KeyStore{Dir: keysDir}
	cache := map[string]*prover.Keys{}
	keys := func(circuit string) (*prover.Keys, error) {
		if k, ok := cache[circuit]; ok {
			return k, nil
		}
		k, err := store.Load(circuit)
		if err != nil {
			return nil, err
		}
		cache[circuit] = k
		return k, nil
	}
	e.log.Info("device worker ready", "device", id, "pid", os.Getpid())
	return hwaccel.ServeIsolated(ctx, os.Stdin, out, b, dev, func(circuit string) (hwaccel.KeyPair, error) {
		k, err := keys(circuit)
		if err != nil {
			return hwaccel.KeyPair{}, err
		}
		return hwaccel.KeyPair{CCS: k.CCS, PK: k.PK}, nil
	})
}
