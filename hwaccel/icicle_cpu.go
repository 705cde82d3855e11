//go:build icicle

package hwaccel

import (
	"fmt"
	"os"

	"github.com/consensys/gnark/backend/accelerated/icicle"
	icicle_bn254 "github.com/consensys/gnark/backend/accelerated/icicle/groth16/bn254"
)

// icicle-cpu:0 is gnark's ICICLE prover on ICICLE's CPU backend (built into
// ICICLE's front-end libraries): the GPU code path, slowly, on a machine
// without a GPU. The GPU run's --dry-run proves on it; it is never found
// by Discover, so `--gpus all` does not pick it.
func init() { RegisterKind("icicle-cpu", openICICLECPU, nil) }

func openICICLECPU(index string, opts DeviceOptions) (Backend, Device, error) {
	if index != "" && index != "0" {
		return nil, Device{}, fmt.Errorf("hwaccel: icicle-cpu device %q: ICICLE's CPU backend is device 0 only", index)
	}
	// gnark sizes MSM windows for a GPU's memory, up to 16 bits (2^16
	// buckets a window): on the CPU backend, which reports the host's
	// memory, a small MSM then takes seconds. gnark reads the cap once, at
	// its first MSM; a value already set is kept.
	if os.Getenv("ICICLE_MSM_MAX_WINDOW") == "" {
		os.Setenv("ICICLE_MSM_MAX_WINDOW", "8")
	}
	dev := Device{ID: "icicle-cpu:0", Kind: "icicle-cpu", Name: "ICICLE CPU backend (the GPU code path, for dry runs)"}
	return &CUDA{id: 0, opts: opts, backend: icicle.CPU, keys: map[string]*icicle_bn254.ProvingKey{}}, dev, nil
}
