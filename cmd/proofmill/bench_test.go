package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/bench"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// TestBenchTinyProfile runs every section of the harness, at tiny sizes,
// through the embedded server `proofmill serve` runs, and checks the
// report folder with `proofmill bench --check`.
func TestBenchTinyProfile(t *testing.T) {
	p := bench.Profile{
		Name: "tiny", SyntheticMinLog: 5, SyntheticMaxLog: 7, ProveRuns: 2,
		ServiceCircuit: "invoice-consistency/v1", Concurrency: []int{1, 2}, ProofsPerLevel: 3,
		MSMMinLog: 8, MSMMaxLog: 9, NTTMinLog: 8, NTTMaxLog: 10, PrimitiveRuns: 2,
		QueuedJobs: 200, WatchStreams: 50,
	}
	out := t.TempDir()
	var stderr bytes.Buffer
	e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, log: quiet}
	r, err := bench.Run(t.Context(), bench.Config{Profile: p, Out: out, KeysDir: testkeys.Dir(), Logger: quiet, StartService: benchService(e)})
	if err != nil {
		t.Fatal(err)
	}
	if problems := bench.Check(r); len(problems) > 0 {
		t.Fatalf("report problems: %q\nserver log: %s", problems, stderr.String())
	}
	if r.Service.Workers < 1 || r.Load.Jobs != 200 || len(r.Sweep) != 3 {
		t.Fatalf("service %+v load %+v sweep %d points", r.Service, r.Load, len(r.Sweep))
	}

	if code, stdout, stderr := proofmill(t, "bench", "--check", out); code != 0 || !strings.Contains(stdout, "complete") {
		t.Fatalf("bench --check: exit %d\n%s%s", code, stdout, stderr)
	}
	os.Remove(filepath.Join(out, "charts", "latency-cdf.svg"))
	if code, _, stderr := proofmill(t, "bench", "--check", out); code != exitFailure || !strings.Contains(stderr, "latency-cdf.svg missing") {
		t.Fatalf("bench --check of a report without a chart: exit %d\n%s", code, stderr)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--profile", "huge"},
		{"bench", "--quick", "extra"},
	} {
		if code, _, stderr := proofmill(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
	if code, _, stderr := proofmill(t, "bench", "--check", t.TempDir()); code != exitFailure || !strings.Contains(stderr, "report.json") {
		t.Errorf("bench --check of an empty folder: exit %d\n%s", code, stderr)
	}
}
