package circuits_test

import (
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"

	"github.com/proofmill/proofmill/circuits"
)

var update = flag.Bool("update", false, "rewrite testdata/constraints.json")

const snapshotPath = "testdata/constraints.json"

// compiledAlone are the circuits TestConstraintSnapshot leaves to
// TestLargeConstraintSnapshot: abs-pool-4096 compiles in about 70 s and
// 4.8 GiB without -race (2 cores), and the race detector multiplies both,
// so the race build (CI's go test -race ./...) skips it there and CI checks
// it in a separate run without -race (.ci/run).
var compiledAlone = []string{"abs-pool-4096/v1"}

// The constraint count of every circuit at every size is pinned, so a change
// to a circuit (or to gnark) shows up in review. Every circuit compiles to
// plain R1CS without Pedersen commitments, so its proofs verify in any
// standard Groth16 verifier. This test compiles every circuit but
// compiledAlone's; TestLargeConstraintSnapshot compiles those.
func TestConstraintSnapshot(t *testing.T) {
	want := readSnapshot(t)
	got := map[string]int{}
	for _, c := range circuits.All() {
		if !slices.Contains(compiledAlone, c.ID) {
			got[c.ID] = compileChecked(t, c, want)
		}
	}
	for _, c := range circuits.All() {
		if _, ok := want[c.ID]; !ok && !*update {
			t.Errorf("%s: not in the snapshot (run go test ./circuits -run Snapshot -update)", c.ID)
		}
	}
	if len(want) != len(circuits.All()) && !*update {
		t.Errorf("snapshot has %d circuits, registry %d", len(want), len(circuits.All()))
	}
	updateSnapshot(t, got)
}

// The circuits TestConstraintSnapshot leaves out, compiled and checked the
// same way; skipped (and reported as skipped) under -race only.
func TestLargeConstraintSnapshot(t *testing.T) {
	if raceEnabled {
		t.Skipf("%v: too slow and memory-hungry under -race; checked without it (go test ./circuits -run LargeConstraintSnapshot)", compiledAlone)
	}
	want := readSnapshot(t)
	got := map[string]int{}
	for _, id := range compiledAlone {
		c, err := circuits.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		got[id] = compileChecked(t, c, want)
	}
	updateSnapshot(t, got)
}

// compileChecked compiles c, checks it against the registry and the
// snapshot, and returns its constraint count.
func compileChecked(t *testing.T, c *circuits.Circuit, want map[string]int) int {
	t.Helper()
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, c.New())
	if err != nil {
		t.Fatalf("%s: %v", c.ID, err)
	}
	if n := len(ccs.GetCommitments().CommitmentIndexes()); n != 0 {
		t.Errorf("%s uses %d commitments (api.Commit or std/rangecheck); proofs would not be standard Groth16", c.ID, n)
	}
	if n := ccs.GetNbPublicVariables() - 1; n != len(c.PublicInputs) {
		t.Errorf("%s: %d public variables, registry names %d", c.ID, n, len(c.PublicInputs))
	}
	n := ccs.GetNbConstraints()
	if !*update {
		if c.Constraints != n {
			t.Errorf("%s: Constraints = %d, compiled %d (the embedded snapshot is stale)", c.ID, c.Constraints, n)
		}
		if want[c.ID] != n {
			t.Errorf("%s: %d constraints, snapshot has %d (run with -update if intended)", c.ID, n, want[c.ID])
		}
	}
	return n
}

func readSnapshot(t *testing.T) map[string]int {
	t.Helper()
	data, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("%v (run go test ./circuits -run Snapshot -update)", err)
	}
	var m map[string]int
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// updateSnapshot, with -update, writes got's counts into the snapshot,
// keeping the other entries of registered circuits.
func updateSnapshot(t *testing.T, got map[string]int) {
	t.Helper()
	if !*update {
		return
	}
	m := map[string]int{}
	if data, err := os.ReadFile(snapshotPath); err == nil {
		json.Unmarshal(data, &m)
	}
	for id := range m {
		if _, err := circuits.Lookup(id); err != nil {
			delete(m, id)
		}
	}
	maps.Copy(m, got)
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(snapshotPath, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every registered circuit's example input passes its native checks.
func TestExamplesSatisfyTheirCircuits(t *testing.T) {
	for _, c := range circuits.All() {
		data, err := os.ReadFile(filepath.Join("..", "examples", c.Example))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		a, err := c.Assign(data)
		if err != nil {
			t.Fatalf("%s: example: %v", c.ID, err)
		}
		if len(a.Public) != len(c.PublicInputs) {
			t.Fatalf("%s: %d public values for %d names", c.ID, len(a.Public), len(c.PublicInputs))
		}
	}
}

func TestLookup(t *testing.T) {
	if _, err := circuits.Lookup("abs-pool-64/v1"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"abs-pool-63/v1", "invoice-consistency", "invoice-consistency/v3", ""} {
		if _, err := circuits.Lookup(id); !errors.Is(err, circuits.ErrUnknownCircuit) {
			t.Errorf("Lookup(%q): got %v, want ErrUnknownCircuit", id, err)
		}
	}
	ids := circuits.IDs()
	if ids[0] != "abs-pool-16/v1" || ids[len(ids)-1] != "invoice-consistency/v2" {
		t.Fatalf("ids not ordered: %v", ids)
	}
}

// A circuit's nullifiers are among its public inputs, so a ledger can find
// each one by name.
func TestNullifiersArePublicInputs(t *testing.T) {
	for _, c := range circuits.All() {
		for _, name := range c.Nullifiers {
			if !slices.Contains(c.PublicInputs, name) {
				t.Errorf("%s: nullifier %q is not a public input (%v)", c.ID, name, c.PublicInputs)
			}
		}
	}
	if c, _ := circuits.Lookup("invoice-consistency/v1"); len(c.Nullifiers) != 2 {
		t.Fatalf("invoice-consistency/v1 nullifiers %v, want two", c.Nullifiers)
	}
}
