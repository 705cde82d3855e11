//go:build icicle

package hwaccel

import (
	"context"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
)

// TestICICLECPUProves runs gnark's ICICLE prover, the GPU code path, on
// ICICLE's CPU backend: its proofs, pinned key or not, must verify.
func TestICICLECPUProves(t *testing.T) {
	k := newCubeKeys(t)
	w, err := frontend.NewWitness(&cube{X: 3, Y: 27}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	public, _ := w.Public()
	for _, pin := range []string{"none", "all"} {
		b, dev, err := Open("icicle-cpu:0", DeviceOptions{Pin: PinPolicy(pin, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if dev.Kind != "icicle-cpu" || b.Name() != "icicle-cpu:0" {
			t.Errorf("device %+v, backend %s", dev, b.Name())
		}
		for i := range 2 { // the second proof reuses the key's device pointers
			res, err := b.Prove(context.Background(), Job{Circuit: "cube-" + pin, CCS: k.ccs, PK: k.pk, Witness: w})
			if err != nil {
				t.Fatalf("pin %s, proof %d: %v", pin, i, err)
			}
			if err := groth16.Verify(res.Proof, k.vk, public); err != nil {
				t.Errorf("pin %s, proof %d does not verify: %v", pin, i, err)
			}
		}
	}
}

func TestICICLECPUDeviceIndex(t *testing.T) {
	if _, _, err := Open("icicle-cpu:1", DeviceOptions{}); err == nil {
		t.Fatal("icicle-cpu:1 opened; ICICLE's CPU backend has device 0 only")
	}
}
