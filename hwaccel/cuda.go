//go:build icicle

package hwaccel

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/consensys/gnark/backend/accelerated/icicle"
	icicle_bn254 "github.com/consensys/gnark/backend/accelerated/icicle/groth16/bn254"
	groth16_bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	cs_bn254 "github.com/consensys/gnark/constraint/bn254"
	icicle_runtime "github.com/ingonyama-zk/icicle-gnark/v3/wrappers/golang/runtime"
)

// CUDA proves on one NVIDIA GPU through gnark's ICICLE prover for BN254.
// gnark serializes proofs per device; Isolated runs one at a time anyway.
type CUDA struct {
	id      int
	opts    DeviceOptions
	backend icicle.Backend // icicle.CUDA; icicle.CPU for the icicle-cpu kind

	mu     sync.Mutex
	keys   map[string]*icicle_bn254.ProvingKey // per circuit, holding device pointers
	pinned uint64                              // bytes of keys kept in device memory
}

func init() { RegisterKind("cuda", openCUDA, discoverCUDA) }

// loadICICLE loads ICICLE's backend libraries once, from
// $ICICLE_BACKEND_INSTALL_DIR or ICICLE's default location.
var loadICICLE = sync.OnceValue(func() error {
	if e := icicle_runtime.LoadBackendFromEnvOrDefault(); e != icicle_runtime.Success {
		return fmt.Errorf("hwaccel: load ICICLE backend: %s", e.AsString())
	}
	return nil
})

// onDevice runs fn on device id's thread, as ICICLE requires, and waits.
func onDevice(id int, fn func()) { onICICLEDevice("CUDA", id, fn) }

// onICICLEDevice runs fn on the thread of ICICLE's device kind:id.
func onICICLEDevice(kind string, id int, fn func()) {
	dev := icicle_runtime.CreateDevice(kind, id)
	done := make(chan struct{})
	icicle_runtime.RunOnDevice(&dev, func(...any) { defer close(done); fn() })
	<-done
}

func cudaDevice(id int) Device {
	d := Device{ID: "cuda:" + strconv.Itoa(id), Kind: "cuda", Name: fmt.Sprintf("CUDA device %d (ICICLE)", id)}
	onDevice(id, func() {
		if mem, e := icicle_runtime.GetAvailableMemory(); e == icicle_runtime.Success {
			d.MemoryTotal, d.MemoryFree = uint64(mem.Total), uint64(mem.Free)
		}
	})
	return d
}

func discoverCUDA() ([]Device, error) {
	if err := loadICICLE(); err != nil {
		return nil, err
	}
	first := icicle_runtime.CreateDevice("CUDA", 0)
	if !icicle_runtime.IsDeviceAvailable(&first) {
		return nil, nil // the CUDA backend is loaded, but no GPU is present
	}
	var n int
	var e icicle_runtime.EIcicleError
	onDevice(0, func() { n, e = icicle_runtime.GetDeviceCount() })
	if e != icicle_runtime.Success {
		return nil, fmt.Errorf("hwaccel: count CUDA devices: %s", e.AsString())
	}
	ds := make([]Device, 0, n)
	for id := range n {
		ds = append(ds, cudaDevice(id))
	}
	return ds, nil
}

func openCUDA(index string, opts DeviceOptions) (Backend, Device, error) {
	id, err := strconv.Atoi(index)
	if err != nil || id < 0 {
		return nil, Device{}, fmt.Errorf("hwaccel: cuda device %q: want cuda:N", index)
	}
	if err := loadICICLE(); err != nil {
		return nil, Device{}, err
	}
	dev := icicle_runtime.CreateDevice("CUDA", id)
	if !icicle_runtime.IsDeviceAvailable(&dev) {
		return nil, Device{}, fmt.Errorf("hwaccel: cuda:%d is not available", id)
	}
	var warm icicle_runtime.EIcicleError
	onDevice(id, func() {
		stream, e := icicle_runtime.CreateStream()
		if e != icicle_runtime.Success {
			warm = e
			return
		}
		warm = icicle_runtime.WarmUpDevice(stream)
		icicle_runtime.DestroyStream(stream)
	})
	if warm != icicle_runtime.Success {
		return nil, Device{}, fmt.Errorf("hwaccel: warm up cuda:%d: %s", id, warm.AsString())
	}
	return &CUDA{id: id, opts: opts, backend: icicle.CUDA, keys: map[string]*icicle_bn254.ProvingKey{}}, cudaDevice(id), nil
}

func (b *CUDA) Name() string {
	if b.backend == icicle.CPU {
		return "icicle-cpu:" + strconv.Itoa(b.id)
	}
	return "cuda:" + strconv.Itoa(b.id)
}

// key returns the circuit's ICICLE proving key, deciding once whether it
// stays pinned in device memory.
func (b *CUDA) key(circuit string, pk *groth16_bn254.ProvingKey) *icicle_bn254.ProvingKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k, ok := b.keys[circuit]; ok {
		return k
	}
	k := &icicle_bn254.ProvingKey{ProvingKey: *pk}
	size := pinnedBytes(pk)
	if b.opts.Pin != nil && b.opts.Pin(circuit, size, b.pinned) {
		k.PinToGPU = true
		b.pinned += size
	}
	b.keys[circuit] = k
	return k
}

// pinnedBytes estimates the device memory a pinned key takes: the G1
// points (64 bytes each) and G2 points (128 bytes each) gnark keeps there.
func pinnedBytes(pk *groth16_bn254.ProvingKey) uint64 {
	g1 := len(pk.G1.A) + len(pk.G1.B) + len(pk.G1.K) + len(pk.G1.Z)
	return uint64(g1)*64 + uint64(len(pk.G2.B))*128
}

func (b *CUDA) Prove(ctx context.Context, job Job) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r1cs, ok := job.CCS.(*cs_bn254.R1CS)
	if !ok {
		return Result{}, &DeviceError{Device: b.Name(), Reason: "failed", Err: fmt.Errorf("cuda proves BN254 R1CS only, not %T", job.CCS)}
	}
	pk, ok := job.PK.(*groth16_bn254.ProvingKey)
	if !ok {
		return Result{}, &DeviceError{Device: b.Name(), Reason: "failed", Err: fmt.Errorf("cuda proves with BN254 keys only, not %T", job.PK)}
	}
	k := b.key(job.Circuit, pk)
	opts := []icicle.Option{icicle.WithDeviceID(b.id), icicle.WithBackend(b.backend), icicle.WithPinKeysToGPU(k.PinToGPU)}
	if b.backend == icicle.CPU {
		// ICICLE's CPU backend is built into its front-end: nothing to
		// load. gnark loads $ICICLE_BACKEND_INSTALL_DIR otherwise, and
		// panics when that fails; ICICLE loads nothing from a file that is
		// not a library, and reports success.
		opts = append(opts, icicle.WithBackendLibrary(os.DevNull))
	}
	cfg, err := icicle.NewConfig(opts...)
	if err != nil {
		return Result{}, &DeviceError{Device: b.Name(), Reason: "failed", Err: err}
	}
	proof, err := icicle_bn254.Prove(r1cs, k, job.Witness, cfg)
	// gnark's ICICLE prover names its device errors only in their text.
	if err != nil && strings.HasPrefix(err.Error(), "setup device pointers") {
		return Result{}, &DeviceError{Device: b.Name(), Reason: "failed", Err: err}
	}
	return Result{Proof: proof, Device: b.Name()}, err
}
