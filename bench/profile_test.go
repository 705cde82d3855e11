package bench

import (
	"slices"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
)

// --only keeps the named sections and clears the others, so the run skips
// them and the report's check expects nothing of them.
func TestPlanOnly(t *testing.T) {
	cfg, err := Plan{Profile: "quick", Only: []string{"admission", "load"}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	var on []string
	for _, s := range sections {
		if s.on(cfg.Profile) {
			on = append(on, s.name)
		}
	}
	if got := strings.Join(on, " "); got != "load admission" {
		t.Fatalf("sections on: %q, want load and admission", got)
	}
	if cfg.Profile.AdmissionRounds != Quick().AdmissionRounds || cfg.Profile.QueuedJobs != Quick().QueuedJobs {
		t.Fatalf("kept sections changed: %+v", cfg.Profile)
	}
	if _, err := (Plan{Profile: "quick", Only: []string{"admision"}}).Config(); errcode.Of(err) != errcode.Usage {
		t.Fatalf("an unknown section: %v, want a usage error", err)
	}
}

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
