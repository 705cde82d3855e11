package hwaccel

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// Device describes one proving device.
type Device struct {
	ID          string `json:"id"`   // "cpu", "cuda:0", …
	Kind        string `json:"kind"` // "cpu", "cuda", …
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memory_total,omitempty"` // bytes, where the device reports it
	MemoryFree  uint64 `json:"memory_free,omitempty"`
}

// ErrNoGPUSupport: this binary was built without the icicle tag.
var ErrNoGPUSupport = errors.New("built without GPU support (build with -tags icicle, see Dockerfile.cuda)")

// Opener makes the backend for one device of a kind, by its index.
type Opener func(index string, opts DeviceOptions) (Backend, Device, error)

// DeviceOptions tune a device backend.
type DeviceOptions struct {
	// Pin says whether to keep a circuit's proving key resident in device
	// memory, given the bytes it needs and the bytes already pinned; nil
	// pins nothing.
	Pin func(circuit string, bytes, pinned uint64) bool
}

var (
	kindsMu sync.Mutex
	kinds   = map[string]Opener{
		"cpu": func(string, DeviceOptions) (Backend, Device, error) { return CPU{}, CPUDevice(), nil },
	}
	discoverers []func() ([]Device, error)
)

// RegisterKind adds a device kind (build-tagged files call it from init).
func RegisterKind(kind string, open Opener, discover func() ([]Device, error)) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kinds[kind] = open
	if discover != nil {
		discoverers = append(discoverers, discover)
	}
}

// Open returns the backend for a device id such as "cuda:0" or "cpu".
func Open(id string, opts DeviceOptions) (Backend, Device, error) {
	kind, index, _ := strings.Cut(id, ":")
	kindsMu.Lock()
	open, ok := kinds[kind]
	known := make([]string, 0, len(kinds))
	for k := range kinds {
		known = append(known, k)
	}
	kindsMu.Unlock()
	if !ok {
		sort.Strings(known)
		if kind == "cuda" {
			return nil, Device{}, fmt.Errorf("hwaccel: device %s: %w", id, ErrNoGPUSupport)
		}
		return nil, Device{}, fmt.Errorf("hwaccel: unknown device %q (kinds here: %s)", id, strings.Join(known, ", "))
	}
	return open(index, opts)
}

// CPUDevice describes the host's processor.
func CPUDevice() Device {
	return Device{ID: "cpu", Kind: "cpu", Name: fmt.Sprintf("%s, %d cores", runtime.GOARCH, runtime.NumCPU())}
}

// Discover lists the accelerators this binary can drive, without the CPU.
// Without GPU support it returns none and ErrNoGPUSupport. It loads device
// drivers into this process: the service runs it in a short-lived child
// (`proofmill devices --json`).
func Discover() ([]Device, error) {
	kindsMu.Lock()
	ds := append([]func() ([]Device, error){}, discoverers...)
	kindsMu.Unlock()
	if len(ds) == 0 {
		return nil, ErrNoGPUSupport
	}
	var all []Device
	var errs []error
	for _, d := range ds {
		found, err := d()
		all = append(all, found...)
		errs = append(errs, err)
	}
	return all, errors.Join(errs...)
}

// Inventory is the devices this binary can drive here, as `proofmill
// devices --json` prints them (and the service reads them from it).
type Inventory struct {
	CPU  Device   `json:"cpu"`
	GPUs []Device `json:"gpus"`
	Note string   `json:"note,omitempty"` // why there are no GPUs, when there are none
}

// TakeInventory discovers the devices; like Discover, it loads device
// drivers into this process.
func TakeInventory() Inventory {
	inv := Inventory{CPU: CPUDevice()}
	gpus, err := Discover()
	inv.GPUs = gpus
	switch {
	case err != nil: // no GPU support built in, or ICICLE's backend is not found
		inv.Note = err.Error()
		if !errors.Is(err, ErrNoGPUSupport) {
			inv.Note += " (is $ICICLE_BACKEND_INSTALL_DIR set? see README, GPUs)"
		}
	case len(gpus) == 0:
		inv.Note = "GPU support is built in, but no GPU was found"
	}
	return inv
}

// PinPolicy is DeviceOptions.Pin for a list of circuits ("all", or ids
// separated by commas) and a budget of device memory in MiB (0: no
// limit); "" and "none" pin nothing.
func PinPolicy(which string, budgetMiB int) func(circuit string, bytes, pinned uint64) bool {
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

// WriteTable writes the inventory as a table a person reads: one line a
// device, then the note.
func (inv Inventory) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tMEMORY")
	for _, d := range append([]Device{inv.CPU}, inv.GPUs...) {
		mem := ""
		if d.MemoryTotal > 0 {
			mem = fmt.Sprintf("%.1f GiB (%.1f free)", float64(d.MemoryTotal)/(1<<30), float64(d.MemoryFree)/(1<<30))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, d.Kind, d.Name, mem)
	}
	if err := tw.Flush(); err != nil || inv.Note == "" {
		return err
	}
	_, err := fmt.Fprintln(w, inv.Note)
	return err
}
