package bench

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	}
	out := t.TempDir()
	var serverLog strings.Builder
	r, err := Run(t.Context(), Config{Profile: p, Out: out, KeysDir: testkeys.Dir(), Logger: quiet,
		ServiceLog: slog.New(slog.NewTextHandler(&serverLog, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	if problems := Check(r); len(problems) > 0 {
		t.Fatalf("report problems: %q\nserver log: %s", problems, serverLog.String())
	}
	if r.Service.Workers < 1 || r.Load.Jobs != 200 || len(r.Sweep) != 3 {
		t.Fatalf("service %+v load %+v sweep %d points", r.Service, r.Load, len(r.Sweep))
	}
	if _, problems, err := CheckDir(out); err != nil || len(problems) > 0 {
		t.Fatalf("the report folder: %v %q", err, problems)
	}
	os.Remove(filepath.Join(out, "charts", "latency-cdf.svg"))
	if _, problems, err := CheckDir(out); err != nil || !strings.Contains(strings.Join(problems, "\n"), "latency-cdf.svg missing") {
		t.Fatalf("a report without a chart: %v %q", err, problems)
	}
}
