// Package layout_test holds DESIGN.md's import rules: imports point down the
// data flow, circuits and hwaccel are leaves, and only the packages at the
// edges import grpc or the journal's database.
package layout_test

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/proofmill/proofmill/"

var (
	grpc  = "google.golang.org/grpc"
	bbolt = "go.etcd.io/bbolt"
	prom  = "github.com/prometheus/"
)

// rules: package pattern → import-path prefixes none of its packages may
// depend on, directly or not.
var rules = []struct {
	pkgs      string
	forbidden []string
}{
	{"./circuits/...", []string{mod + "prover", mod + "hwaccel", mod + "scheduler", mod + "worker", mod + "server", mod + "client", mod + "api", grpc, bbolt, prom}},
	{"./hwaccel/...", []string{mod, grpc, bbolt, prom}},
	{"./prover/...", []string{mod + "scheduler", mod + "worker", mod + "server", mod + "client", mod + "api", grpc, bbolt, prom}},
	{"./scheduler", []string{mod + "prover", mod + "worker", mod + "server", mod + "client", mod + "api", grpc, bbolt, prom}},
	{"./scheduler/embedded", []string{mod + "prover", mod + "worker", mod + "server", mod + "client", mod + "api", grpc, prom}},
	{"./worker/...", []string{mod + "server", mod + "client", mod + "api", grpc, bbolt, prom}},
	{"./server/...", []string{mod + "worker", mod + "scheduler/embedded", mod + "client", bbolt}},
	{"./client/...", []string{mod + "circuits", mod + "prover", mod + "scheduler", mod + "worker", mod + "server", "github.com/consensys/", bbolt, prom}},
}

func TestImportDirection(t *testing.T) {
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../../"+strings.TrimPrefix(r.pkgs, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Fatalf("go list %s listed nothing", r.pkgs)
		}
		for _, dep := range deps {
			for _, bad := range r.forbidden {
				if strings.HasPrefix(dep, bad) && !strings.HasPrefix(dep, mod+strings.TrimSuffix(strings.TrimPrefix(r.pkgs, "./"), "/...")) {
					t.Errorf("%s depends on %s", r.pkgs, dep)
				}
			}
		}
	}
}
