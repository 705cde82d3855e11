//go:build icicle

package bench

import (
	"context"
	"testing"
)

// TestICICLEPrimitives runs the GPU primitives' code path on ICICLE's CPU
// backend: every size is measured with inputs on the host and on the
// device, and the smallest of each is checked against gnark-crypto.
func TestICICLEPrimitives(t *testing.T) {
	p := Profile{Name: "test", MSMMinLog: 6, MSMMaxLog: 8, NTTMinLog: 6, NTTMaxLog: 9, PrimitiveRuns: 2}
	got, err := gpuPrimitives(context.Background(), "icicle-cpu", p, newPrimitiveInputs(1<<p.MSMMaxLog, 1<<p.NTTMaxLog))
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Profile: p, Primitives: got}
	seen := map[string]int{}
	for _, x := range got {
		seen[x.Op+" "+x.Inputs]++
		if x.Device != "icicle-cpu" || x.Time.Runs != 2 || x.Time.Median <= 0 {
			t.Errorf("%+v", x)
		}
	}
	want := map[string]int{"msm-g1 host": 3, "msm-g1 device": 3, "ntt host": 4, "ntt device": 4}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("%s: %d sizes, want %d (report %+v)", k, seen[k], n, r.Primitives)
		}
	}
}

func TestICICLEUnknownDevice(t *testing.T) {
	if _, err := gpuPrimitives(context.Background(), "tpu:0", Profile{MSMMinLog: 6, MSMMaxLog: 6, PrimitiveRuns: 1}, newPrimitiveInputs(64, 0)); err == nil {
		t.Fatal("an unknown device was accepted")
	}
}
