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
	redis = []string{"github.com/hibiken/asynq", "github.com/redis/go-redis"} // scheduler/redisq only
)

func and(a []string, b ...string) []string { return append(b, a...) }

// rules: package pattern → import-path prefixes none of its packages may
// depend on, directly or not.
var rules = []struct {
	pkgs      string
	forbidden []string
}{
	{"./circuits/...", and(redis, mod+"prover", mod+"hwaccel", mod+"scheduler", mod+"worker", mod+"server", mod+"client", mod+"api", grpc, bbolt, prom)},
	{"./hwaccel/...", and(redis, mod, grpc, bbolt, prom)},
	{"./prover/...", and(redis, mod+"scheduler", mod+"worker", mod+"server", mod+"client", mod+"api", grpc, bbolt, prom)},
	{"./scheduler", and(redis, mod+"prover", mod+"worker", mod+"server", mod+"client", mod+"api", grpc, bbolt, prom)},
	{"./scheduler/embedded", and(redis, mod+"prover", mod+"worker", mod+"server", mod+"client", mod+"api", grpc, prom)},
	{"./scheduler/conformance", and(redis, mod+"prover", mod+"worker", mod+"server", mod+"client", mod+"api", grpc, bbolt, prom)},
	{"./scheduler/redisq", []string{mod + "prover", mod + "worker", mod + "server", mod + "client", mod + "api", grpc, bbolt, prom}},
	{"./worker/...", and(redis, mod+"server", mod+"client", mod+"api", grpc, bbolt, prom)},
	{"./server/...", and(redis, mod+"worker", mod+"scheduler/embedded", mod+"client", bbolt)},
	// The harness gets its server from the caller (ServiceStarter), so it
	// measures the wiring `proofmill serve` runs rather than its own.
	{"./bench/...", and(redis, mod+"scheduler", mod+"worker", mod+"server", bbolt, prom)},
	{"./client/...", and(redis, mod+"circuits", mod+"prover", mod+"scheduler", mod+"worker", mod+"server", "github.com/consensys/", bbolt, prom)},
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
