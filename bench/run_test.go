package bench

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// TestTinyProfile runs every section of the harness at tiny sizes,
// through the node `proofmill serve` runs, and checks the report folder.
func TestTinyProfile(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := Profile{
		Name: "tiny", SyntheticMinLog: 5, SyntheticMaxLog: 7, ProveRuns: 2,
		ServiceCircuit: "invoice-consistency/v1", Concurrency: []int{1, 2}, ProofsPerLevel: 3,
		MSMMinLog: 8, MSMMaxLog: 9, NTTMinLog: 8, NTTMaxLog: 10, PrimitiveRuns: 2,
		QueuedJobs: 200, WatchStreams: 50,
		AdmissionCallers: 4, AdmissionRounds: 2, AdmissionWindow: 300 * time.Millisecond,
	}
	out := t.TempDir()
	var serverLog strings.Builder
	r, err := Run(t.Context(), Config{Profile: p, Out: out, KeysDir: testkeys.Dir(), Logger: quiet, Binary: proctest.Binary(t),
		ServiceLog: slog.New(slog.NewTextHandler(&serverLog, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	// Complete, not fast: a test on a shared machine judges no timings.
	if problems := CheckComplete(r); len(problems) > 0 {
		t.Fatalf("report problems: %q\nserver log: %s", problems, serverLog.String())
	}
	if r.Service.Workers < 1 || r.Load.Jobs != 200 || len(r.Sweep) != 3 {
		t.Fatalf("service %+v load %+v sweep %d points", r.Service, r.Load, len(r.Sweep))
	}
	// Both backends, each a separate serve: redis-server must be installed
	// for the tests (.ci/run installs it), so a missing one fails here.
	if backends := admissionBackends(r); backends != "embedded redis" {
		t.Fatalf("admission measured on %q, want embedded and redis; notes %q", backends, r.Notes)
	}
	if problems, err := checkFolder(out); err != nil || len(problems) > 0 {
		t.Fatalf("the report folder: %v %q", err, problems)
	}
	os.Remove(filepath.Join(out, "charts", "latency-cdf.svg"))
	if problems, err := checkFolder(out); err != nil || !strings.Contains(strings.Join(problems, "\n"), "latency-cdf.svg missing") {
		t.Fatalf("a report without a chart: %v %q", err, problems)
	}
}

func admissionBackends(r *Report) string {
	var names []string
	for _, a := range r.Admission {
		names = append(names, a.Backend)
	}
	return strings.Join(names, " ")
}

// checkFolder is CheckDir without the speed gate.
func checkFolder(dir string) ([]string, error) {
	_, problems, err := checkDir(dir, CheckComplete)
	return problems, err
}

// BenchmarkPlantedSlowdown shows that the speed gate catches a real 20 %
// regression: it measures the service section twice on this machine, busy
// or not, as it is (which the gate must pass) and with 20 % more work in
// the service path (after each service proof, a fifth of its CPU time
// spent again, which the gate must fail at every level). It judges speed,
// so it is a benchmark, run by hand, never in the test suite:
//
//	go test ./bench -run '^$' -bench PlantedSlowdown -benchtime 1x
func BenchmarkPlantedSlowdown(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	measure := func(name string, plant func(latency, cpu time.Duration)) []string {
		p := Profile{Name: "service", ServiceCircuit: "invoice-consistency/v1", Concurrency: []int{1, 2}, ProofsPerLevel: 5}
		r, err := Run(b.Context(), Config{Profile: p, Out: b.TempDir(), KeysDir: testkeys.Dir(), Logger: quiet, plant: plant})
		if err != nil {
			b.Fatal(err)
		}
		if problems := CheckComplete(r); len(problems) > 0 {
			b.Fatalf("report problems: %q", problems)
		}
		for _, l := range r.Service.Levels {
			b.Logf("%s: concurrency %d: CPU %.3f (rounds %s), throughput %.3f (rounds %s)", name, l.Concurrency,
				l.CPURatio, ratios(l.Rounds, true), l.Ratio, ratios(l.Rounds, false))
			b.ReportMetric(l.CPURatio, fmt.Sprintf("cpu-ratio-%s-c%d", name, l.Concurrency))
		}
		return CheckSpeeds(r)
	}
	for range b.N {
		if problems := measure("as-is", nil); len(problems) > 0 {
			b.Fatalf("the speed gate failed the service as it is: %q", problems)
		}
		problems := measure("planted", func(_, cpu time.Duration) { burnCPU(cpu / 5) })
		if n := strings.Count(strings.Join(problems, "\n"), "CPU time"); n != 2 {
			b.Fatalf("the speed gate missed 20 %% more work in the service path at %d of 2 levels: %q", 2-n, problems)
		}
	}
}

// burnCPU spins until this thread has used d more CPU time.
func burnCPU(d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := 1.0
	for start := threadCPU(); threadCPU()-start < d; {
		for range 10_000 {
			x = x*1.0000001 + 1e-9
		}
	}
	_ = x
}
