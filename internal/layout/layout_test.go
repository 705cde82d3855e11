// Package layout_test holds DESIGN.md's import rules: imports point down the
// data flow, circuits and hwaccel are leaves, scheduler imports no gnark
// package, and only the packages at the edges import grpc, Redis or the
// journal's database. Rules are checked on direct imports and on the
// whole dependency graph.
package layout_test

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/proofmill/proofmill/"

var (
	grpc   = "google.golang.org/grpc"
	bbolt  = "go.etcd.io/bbolt"
	prom   = "github.com/prometheus/"
	gnark  = "github.com/consensys/"
	redis  = []string{"github.com/hibiken/asynq", "github.com/redis/go-redis"}
	upper  = []string{mod + "node", mod + "batch", mod + "bench", mod + "cmd"} // the composition root and above
	served = []string{mod + "server", mod + "client"}
	// ethereum is imported by test files only (TestDirectImports lists no
	// package that may import it).
	ethereum = "github.com/ethereum/"
)

func and(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func ours(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, mod+n)
	}
	return out
}

// exactly forbids one package, not those below it: prefixes ending in "$"
// match whole import paths.
func exactly(pkg string) string { return pkg + "$" }

func matches(dep, forbidden string) bool {
	if exact, ok := strings.CutSuffix(forbidden, "$"); ok {
		return dep == exact
	}
	return strings.HasPrefix(dep, forbidden)
}

// rules: package pattern → import-path prefixes none of its packages may
// depend on, directly or not.
var rules = []struct {
	pkgs      string
	forbidden []string
}{
	{"./errcode", []string{mod + "circuits", mod + "prover", mod + "hwaccel", mod + "scheduler", mod + "api", gnark, grpc, "google.golang.org/"}},
	{"./circuits/...", and(redis, upper, served, ours("prover", "hwaccel", "scheduler", "worker", "api", "tenants", "audit"), []string{grpc, bbolt, prom})},
	{"./hwaccel/...", and(redis, []string{mod, grpc, bbolt, prom})},
	{"./prover/...", and(redis, upper, served, ours("scheduler", "worker", "api", "tenants", "audit"), []string{grpc, bbolt, prom})},
	{"./scheduler", and(redis, upper, served, ours("prover", "worker", "api", "tenants", "audit", "hwaccel"), []string{grpc, bbolt, prom})},
	{"./scheduler/embedded", and(redis, upper, served, ours("prover", "worker", "api", "tenants", "audit"), []string{grpc, prom})},
	{"./scheduler/conformance", and(redis, upper, served, ours("prover", "worker", "api", "tenants", "audit"), []string{grpc, bbolt, prom})},
	{"./scheduler/redisq", and(upper, served, ours("prover", "worker", "api", "tenants", "audit"), []string{grpc, bbolt, prom})},
	// At-rest encryption knows jobs, not how they are proved or served;
	// sealing is the API's, for clients in any language.
	{"./vault", and(redis, upper, served, ours("prover", "hwaccel", "worker", "api", "tenants", "audit"), []string{grpc, bbolt, prom})},
	{"./api/sealed", and(redis, upper, served, ours("circuits", "prover", "hwaccel", "scheduler", "worker", "tenants", "audit", "vault"), []string{gnark, grpc, bbolt, prom})},
	{"./worker/...", and(redis, upper, served, ours("api", "tenants", "audit"), []string{grpc, bbolt, prom})},
	{"./tenants", and(redis, upper, served, ours("circuits", "prover", "scheduler", "worker", "api", "audit", "hwaccel"), []string{gnark, grpc, bbolt, prom})},
	{"./audit", and(redis, upper, served, ours("circuits", "prover", "scheduler", "worker", "api", "tenants", "hwaccel"), []string{gnark, grpc, bbolt, prom})},
	{"./server/...", and(redis, upper, ours("worker", "scheduler/embedded", "client", "audit"), []string{bbolt, prom})},
	{"./client/...", and(redis, upper, ours("circuits", "prover", "scheduler", "worker", "server", "tenants", "audit"), []string{gnark, bbolt, prom})},
	{"./batch/...", and(redis, ours("node", "bench", "cmd", "scheduler", "worker", "server", "prover", "audit"), []string{bbolt, prom})},
	// Go ledgers verify proof files without the service: the proof-file
	// parser and export, not the prover's key store, ceremony or GPU code.
	{"./ledger", and(redis, upper, served, []string{exactly(mod + "prover")}, ours("hwaccel", "scheduler", "worker", "api", "tenants", "audit", "vault"), []string{grpc, bbolt, prom})},
	{"./node/...", ours("bench", "cmd", "batch")},
	{"./bench/...", ours("cmd")},
	// go-ethereum runs the contracts' tests (contracts/) only: no binary
	// links it.
	{"./cmd/...", []string{ethereum}},
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
		self := mod + strings.TrimSuffix(strings.TrimPrefix(r.pkgs, "./"), "/...")
		for _, dep := range deps {
			for _, bad := range r.forbidden {
				if matches(dep, bad) && !strings.HasPrefix(dep, self) && dep != mod+"errcode" {
					t.Errorf("%s depends on %s", r.pkgs, dep)
				}
			}
		}
	}
}

// directRules: import-path prefixes, and the only packages (by prefix)
// that may import them directly.
var directRules = []struct {
	imported string
	only     []string
}{
	{grpc, ours("api/proofmill/v1", "server", "client", "node")},
	{redis[0], ours("scheduler/redisq")},
	{redis[1], ours("scheduler/redisq")},
	{bbolt, ours("scheduler/embedded")},
	{prom, ours("node")},
	{gnark, ours("circuits", "prover", "hwaccel", "ledger", "bench", "cmd/proofmill")}, // the command only silences gnark's logger
	{mod + "bench", ours("cmd/proofmill")},
	{ethereum, nil},
}

func TestDirectImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 20 {
		t.Fatalf("go list listed %d packages", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, r := range directRules {
			allowed := false
			for _, p := range r.only {
				allowed = allowed || strings.HasPrefix(pkg, p)
			}
			for _, imp := range imports {
				if strings.HasPrefix(imp, r.imported) && !allowed {
					t.Errorf("%s imports %s directly", pkg, imp)
				}
			}
		}
	}
	// The issue's own check: the scheduler imports no gnark package.
	out, err = exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", "../../scheduler").CombinedOutput()
	if err != nil || strings.Contains(string(out), gnark) || !strings.Contains(string(out), mod+"circuits") {
		t.Fatalf("scheduler imports: %s %v", out, err)
	}
}
