package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
)

// proof calldata prints the proof file's EVM calldata, and makes the same
// from a file written before files carried it; snarkjs's line has the same
// words.
func TestProofCalldata(t *testing.T) {
	dir := t.TempDir()
	proof := filepath.Join(dir, "proof.json")
	if code, _, stderr := proofmill(t, "prove", "--keys", testkeys.Dir(), "--circuit", "invoice-consistency/v1", "--input", example, "--out", proof); code != 0 {
		t.Fatalf("prove: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	var f prover.ProofFile
	if err := json.Unmarshal(data, &f); err != nil || f.EVMCalldata == nil || len(f.EVMCalldata.PublicInputs) != len(f.PublicSignals) {
		t.Fatalf("proof file calldata: %+v, %v", f.EVMCalldata, err)
	}
	words := strings.Join(f.EVMCalldata.Proof[:], "")
	want := "0x" + strings.ReplaceAll(words, "0x", "") + "\n[" + strings.Join(f.EVMCalldata.PublicInputs, ",") + "]\n"
	code, stdout, stderr := proofmill(t, "proof", "calldata", "--proof", proof)
	if code != 0 || stdout != want {
		t.Fatalf("proof calldata: exit %d: %q%s, want %q", code, stdout, stderr, want)
	}
	var old map[string]any
	json.Unmarshal(data, &old)
	delete(old, "evm_calldata")
	oldData, _ := json.Marshal(old)
	oldFile := writeFile(t, "old.json", string(oldData))
	if code, stdout, stderr := proofmill(t, "proof", "calldata", "--proof", oldFile); code != 0 || stdout != want {
		t.Fatalf("a file without evm_calldata: exit %d: %q%s", code, stdout, stderr)
	}
	code, stdout, _ = proofmill(t, "proof", "calldata", "--proof", proof, "--format", "snarkjs-solidity")
	if code != 0 || !strings.HasPrefix(stdout, `["`+f.EVMCalldata.Proof[0]+`"`) || !strings.Contains(stdout, f.EVMCalldata.PublicInputs[0]) {
		t.Fatalf("snarkjs-solidity: exit %d: %s", code, stdout)
	}
	if code, _, _ := proofmill(t, "proof", "calldata", "--proof", proof, "--format", "abi"); code != 2 {
		t.Fatalf("an unknown format: exit %d, want 2", code)
	}
}
