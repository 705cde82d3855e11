package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/node"
)

var progressLine = regexp.MustCompile(`^job [0-9a-f]+: (queued|running(: (waiting for keys|making development keys|solving|proving|verifying))?|succeeded|failed|cancelled) \([0-9.]+m?s\)$`)

// Each change of state or stage is one line; a repeat prints nothing.
func TestProgressPrintsChanges(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out)
	running := pb.JobState_JOB_STATE_RUNNING
	for _, j := range []*pb.Job{
		{Id: "ab", State: pb.JobState_JOB_STATE_QUEUED},
		{Id: "ab", State: running},
		{Id: "ab", State: running},
		{Id: "ab", State: running, Stage: pb.JobStage_JOB_STAGE_MAKING_DEVELOPMENT_KEYS},
		{Id: "ab", State: running, Stage: pb.JobStage_JOB_STAGE_MAKING_DEVELOPMENT_KEYS},
		{Id: "ab", State: running, Stage: pb.JobStage_JOB_STAGE_PROVING},
		{Id: "ab", State: pb.JobState_JOB_STATE_SUCCEEDED},
	} {
		p.seen(j)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"queued", "running", "running: making development keys", "running: proving", "succeeded"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		if !progressLine.MatchString(l) || !strings.Contains(l, ": "+want[i]+" (") {
			t.Errorf("line %d %q, want %q with the elapsed time", i, l, want[i])
		}
	}
}

// prove --server on a circuit without keys shows the development setup
// on stderr, and wait shows the job's progress to its end; stdout keeps
// the proof only.
func TestClientCommandsPrintStages(t *testing.T) {
	addr := startNode(t, func(c *node.Config) { c.KeysDir = t.TempDir() }).Addr()
	input := writeFile(t, "in.json", testinput.Invoice(t, 91))
	code, _, stderr := proofmill(t, "prove", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", input, "--out", filepath.Join(t.TempDir(), "p.json"))
	if code != 0 || !strings.Contains(stderr, "running: making development keys (") || !strings.Contains(stderr, ": succeeded (") {
		t.Fatalf("prove --server: exit %d, want the key setup and the end on stderr:\n%s", code, stderr)
	}
	code, stdout, _ := proofmill(t, "submit", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", writeFile(t, "in2.json", testinput.Invoice(t, 92)))
	var submitted struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &submitted); code != 0 || err != nil {
		t.Fatalf("submit: exit %d: %v", code, err)
	}
	code, stdout, stderr = proofmill(t, "wait", "--server", addr, "--id", submitted.ID)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 0 || !strings.Contains(stdout, "proof") {
		t.Fatalf("wait: exit %d:\n%s", code, stderr)
	}
	for _, l := range lines {
		if !progressLine.MatchString(l) {
			t.Fatalf("wait printed %q, not a progress line:\n%s", l, stderr)
		}
	}
	if !strings.Contains(lines[len(lines)-1], ": succeeded (") {
		t.Fatalf("wait's last line %q, want the success", lines[len(lines)-1])
	}
}
