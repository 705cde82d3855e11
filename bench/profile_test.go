package bench

import (
	"slices"
	"testing"

	"github.com/proofmill/proofmill/circuits"
)

// The full profile (GPU servers) has the large circuit, abs-pool-4096, so
// a GPU run measures a circuit of millions of constraints; the quick one
// (CI) has none whose keys are made only when asked.
func TestProfilesLargeCircuit(t *testing.T) {
	const large = "abs-pool-4096/v1"
	full, quick := Full(), Quick()
	if !slices.Contains(full.Circuits, large) {
		t.Fatalf("full profile circuits %v lack %s", full.Circuits, large)
	}
	for _, p := range []Profile{full, quick} {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range append(quick.Circuits, quick.ServiceCircuit) {
		if c, err := circuits.Lookup(id); err != nil || c.KeysOnlyWhenAsked() {
			t.Fatalf("quick profile: %s (%v): too large for CI", id, err)
		}
	}
	if c, _ := circuits.Lookup(full.ServiceCircuit); c.KeysOnlyWhenAsked() {
		t.Fatalf("full profile's service circuit %s is too large", c.ID)
	}
}
