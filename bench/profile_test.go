package bench

import (
	"strings"
	"testing"

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
