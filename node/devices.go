package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
)

// discoverGPUs runs `proofmill devices --json` in a child process, so that
// this one never loads a GPU driver, and returns the GPUs it found.
func discoverGPUs(ctx context.Context, self string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "devices", "--json")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node: discover GPUs: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var found hwaccel.Inventory
	// Decode the first value only: C libraries may print after it.
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&found); err != nil {
		return nil, fmt.Errorf("node: discover GPUs: %w", err)
	}
	if len(found.GPUs) == 0 {
		return nil, fmt.Errorf("node: --gpus all: %s", found.Note)
	}
	var ids []string
	for _, d := range found.GPUs {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// startGPUs starts cfg.ProcsPerGPU supervised worker processes per GPU:
// serve's --gpus, or a worker's --device when it asks for more than one.
func startGPUs(ctx context.Context, cfg Config) ([]*hwaccel.Isolated, error) {
	gpus := cfg.GPUs
	if cfg.Role == Worker && cfg.Device != "" && cfg.ProcsPerGPU > 1 {
		gpus = cfg.Device
	}
	if gpus == "" {
		return nil, nil
	}
	self, err := executable(cfg)
	if err != nil {
		return nil, err
	}
	ids := strings.Split(gpus, ",")
	if gpus == "all" {
		if ids, err = discoverGPUs(ctx, self); err != nil {
			return nil, err
		}
	}
	return startIsolated(cfg, self, ids, cfg.ProcsPerGPU)
}

// startCPUs starts, with IsolateCPU, one supervised CPU worker process per
// slot: a cancelled job's proof is then stopped by killing its process.
func startCPUs(cfg Config, slots int) ([]*hwaccel.Isolated, error) {
	if !cfg.IsolateCPU || slots <= 0 {
		return nil, nil
	}
	self, err := executable(cfg)
	if err != nil {
		return nil, err
	}
	return startIsolated(cfg, self, []string{"cpu"}, slots)
}

func executable(cfg Config) (string, error) {
	if cfg.Executable != "" {
		return cfg.Executable, nil
	}
	return os.Executable()
}

// startIsolated starts procs supervised `worker --device ID --stdio`
// processes for each device id (named as processNames says).
func startIsolated(cfg Config, self string, ids []string, procs int) ([]*hwaccel.Isolated, error) {
	keysDir := cfg.KeysDir
	if keysDir == "" {
		var err error
		if keysDir, err = prover.DefaultKeyDir(); err != nil {
			return nil, err
		}
	}
	var ds []*hwaccel.Isolated
	for _, id := range ids {
		id := strings.TrimSpace(id)
		for _, name := range processNames(id, procs) {
			d := hwaccel.NewIsolated(hwaccel.IsolatedConfig{
				Device: name,
				Command: func() *exec.Cmd {
					return dieWithParent(exec.Command(self, "worker", "--device", id, "--stdio", "--keys", keysDir,
						"--pin", cfg.Pin, "--pin-budget-mib", strconv.Itoa(cfg.PinBudgetMiB)))
				},
				ProofTimeout: cfg.DeviceTimeout,
				Logger:       cfg.Logger,
			})
			d.Start()
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// DeviceChild is one device served to a parent process over stdin and
// stdout: what `worker --device ID --stdio` runs.
type DeviceChild struct {
	Device       string // e.g. "cuda:0"
	KeysDir      string // "": prover.DefaultKeyDir()
	Pin          string // as Config.Pin
	PinBudgetMiB int
	Logger       *slog.Logger // nil: slog.Default()
}

// ServeDevice is the child side of an isolated device: it proves what its
// parent sends on stdin until stdin closes or ctx ends. Keys come from the
// key store, checked against the same manifests as the parent's.
func ServeDevice(ctx context.Context, c DeviceChild) error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	out, err := protocolStdout() // before the device's libraries load
	if err != nil {
		return err
	}
	b, dev, err := hwaccel.Open(c.Device, hwaccel.DeviceOptions{Pin: hwaccel.PinPolicy(c.Pin, c.PinBudgetMiB)})
	if err != nil {
		return err
	}
	store := prover.KeyStore{Dir: c.KeysDir}
	if store.Dir == "" {
		if store.Dir, err = prover.DefaultKeyDir(); err != nil {
			return err
		}
	}
	cache := map[string]*prover.Keys{} // one request at a time: no lock
	c.Logger.Info("device worker ready", "device", c.Device, "pid", os.Getpid())
	return hwaccel.ServeIsolated(ctx, os.Stdin, out, b, dev, func(circuit string) (hwaccel.KeyPair, error) {
		k, ok := cache[circuit]
		if !ok {
			if k, err = store.Load(circuit); err != nil {
				return hwaccel.KeyPair{}, err
			}
			cache[circuit] = k
		}
		return hwaccel.KeyPair{CCS: k.CCS, PK: k.PK}, nil
	})
}

// devices lists this process's CPU pool, if it has one, its GPUs, and with
// Redis every worker process consuming the shared queue.
func (n *Node) devices() []*pb.Device {
	var ds []*pb.Device
	switch {
	case len(n.gpus) > 0:
		ds = append(ds, &pb.Device{Id: "cpu", Kind: "cpu", Name: hwaccel.CPUDevice().Name + " (proves what the GPUs fail)", Healthy: true})
	case n.pool != nil && n.pool.Slots() > 0:
		name := hwaccel.CPUDevice().Name
		if len(n.cpus) > 0 {
			name += " (each proof in a supervised process)"
		}
		ds = append(ds, &pb.Device{Id: "cpu", Kind: "cpu", Name: name,
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
	q := n.jobs.redisQueue
	if q == nil {
		return ds
	}
	workers, err := q.Workers()
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
