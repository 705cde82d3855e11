package circuits_test

import (
	"encoding/json"
	"errors"
	"flag"
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

// The constraint count of every circuit at every size is pinned, so a change
// to a circuit (or to gnark) shows up in review. Every circuit compiles to
// plain R1CS without Pedersen commitments, so its proofs verify in any
// standard Groth16 verifier.
func TestConstraintSnapshot(t *testing.T) {
	got := map[string]int{}
	for _, c := range circuits.All() {
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
		got[c.ID] = ccs.GetNbConstraints()
		if c.Constraints != got[c.ID] && !*update {
			t.Errorf("%s: Constraints = %d, compiled %d (the embedded snapshot is stale)", c.ID, c.Constraints, got[c.ID])
		}
	}
	if *update {
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(snapshotPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("%v (run go test ./circuits -run Snapshot -update)", err)
	}
	var want map[string]int
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for id, n := range got {
		if want[id] != n {
			t.Errorf("%s: %d constraints, snapshot has %d (run with -update if intended)", id, n, want[id])
		}
	}
	if len(want) != len(got) {
		t.Errorf("snapshot has %d circuits, registry %d", len(want), len(got))
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
