package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/pedersen"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/ledger"
	"github.com/proofmill/proofmill/prover"
)

func TestLoadVerifyingKey(t *testing.T) {
	_, served := invoiceProofs(t)
	digest := sha256hex
	withCommitment := func() []byte {
		var vk groth16bn254.VerifyingKey
		if _, err := vk.ReadFrom(bytes.NewReader(served.Data)); err != nil {
			t.Fatal(err)
		}
		vk.CommitmentKeys = make([]pedersen.VerifyingKey, 1)
		vk.PublicAndCommitmentCommitted = [][]int{{1}}
		var b bytes.Buffer
		if _, err := vk.WriteRawTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	truncated := served.Data[:len(served.Data)-1]
	trailing := append(append([]byte(nil), served.Data...), 0)
	for _, tc := range []struct {
		name, circuit string
		data          []byte
		digest        string
		want          error
	}{
		{"served", invoiceID, served.Data, served.SHA256, nil},
		{"other digest", invoiceID, served.Data, strings.Repeat("0", 64), ledger.ErrKeyDigest},
		{"digest in capitals", invoiceID, served.Data, strings.ToUpper(served.SHA256), ledger.ErrKeyDigest},
		{"unknown circuit", "invoice-consistency/v9", served.Data, served.SHA256, circuits.ErrUnknownCircuit},
		{"another circuit's key", "abs-pool-16/v1", served.Data, served.SHA256, ledger.ErrBadKey},
		{"truncated", invoiceID, truncated, digest(truncated), ledger.ErrBadKey},
		{"trailing byte", invoiceID, trailing, digest(trailing), ledger.ErrBadKey},
		{"commitments", invoiceID, withCommitment, digest(withCommitment), ledger.ErrKeyCommitments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ledger.LoadVerifyingKey(tc.circuit, tc.data, tc.digest)
			t.Log(err)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && (k.Circuit() != invoiceID || k.SHA256() != served.SHA256) {
				t.Fatalf("key is %s %s, want %s %s", k.Circuit(), k.SHA256(), invoiceID, served.SHA256)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	files, served := invoiceProofs(t)
	key := loadKey(t, invoiceID, served)
	good := files[0]
	for _, tc := range []struct {
		name string
		file []byte
		want error
		code errcode.Code
	}{
		{"own proof", good, nil, ""},
		{"changed public input", edit(t, good, setInput(1, "7")), ledger.ErrRejected, errcode.ProofRejected},
		{"another statement's proof", edit(t, good, swapProof(t, files[1])), ledger.ErrRejected, errcode.ProofRejected},
		{"tampered point", edit(t, good, tamperPoint), ledger.ErrRejected, errcode.ProofRejected},
		{"named inputs disagree", edit(t, good, func(f *prover.ProofFile) { f.PublicInputs[1].Value = "7" }), ledger.ErrBadProofFile, errcode.BadProofFile},
		{"another key", edit(t, good, func(f *prover.ProofFile) { f.VerifyingKeySHA256 = strings.Repeat("0", 64) }), ledger.ErrWrongKey, errcode.KeyMismatch},
		{"no key named", edit(t, good, func(f *prover.ProofFile) { f.VerifyingKeySHA256 = "" }), ledger.ErrNoKeyDigest, errcode.BadProofFile},
		{"not JSON", []byte("{"), ledger.ErrBadProofFile, errcode.BadProofFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := key.Verify(tc.file)
			t.Log(err)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) || errcode.Of(err) != tc.code {
				t.Fatalf("got %v (%s), want %v (%s)", err, errcode.Of(err), tc.want, tc.code)
			}
			if err == nil {
				checkStatement(t, s, tc.file, served.SHA256)
			}
		})
	}
}

// checkStatement: the statement is the file's, by the circuit's names.
func checkStatement(t *testing.T, s *ledger.Statement, file []byte, digest string) {
	t.Helper()
	d, err := prover.ParseProofFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Circuit
	if s.Circuit != c.ID || s.VerifyingKeySHA256 != digest || len(s.Inputs) != len(c.PublicInputs) {
		t.Fatalf("statement %s %s with %d inputs, want %s %s with %d", s.Circuit, s.VerifyingKeySHA256, len(s.Inputs), c.ID, digest, len(c.PublicInputs))
	}
	for i, in := range s.Inputs {
		if in.Name != c.PublicInputs[i] || in.Value.String() != d.File.PublicSignals[i] {
			t.Errorf("input %d: %s = %s, want %s = %s", i, in.Name, in.Value, c.PublicInputs[i], d.File.PublicSignals[i])
		}
	}
	if len(s.Nullifiers) != len(c.Nullifiers) || len(c.Nullifiers) == 0 {
		t.Fatalf("%d nullifiers, want the circuit's %d", len(s.Nullifiers), len(c.Nullifiers))
	}
	for i, n := range s.Nullifiers {
		v, _ := s.Input(c.Nullifiers[i])
		if n.Circuit != c.ID || n.Name != c.Nullifiers[i] || v == nil || n.Value.Cmp(v) != 0 {
			t.Errorf("nullifier %d: %s %s = %s, want %s's input %s", i, n.Circuit, n.Name, n.Value, c.ID, c.Nullifiers[i])
		}
	}
}

// A Keys set verifies each proof against the key it names, and refuses a
// proof of a key it lacks.
func TestKeysVerify(t *testing.T) {
	files, served := invoiceProofs(t)
	var keys ledger.Keys
	if _, err := keys.Verify(files[0]); !errors.Is(err, ledger.ErrUnknownKey) {
		t.Fatalf("empty set: got %v, want ErrUnknownKey", err)
	}
	pool := servedKey(t, "abs-pool-16/v1")
	keys.Add(loadKey(t, invoiceID, served), loadKey(t, "abs-pool-16/v1", pool))
	s, err := keys.Verify(files[0])
	if err != nil {
		t.Fatal(err)
	}
	checkStatement(t, s, files[0], served.SHA256)
	if _, err := keys.Verify(edit(t, files[0], setInput(1, "7"))); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("changed input: got %v, want ErrRejected", err)
	}
	// A file naming the pool's key for an invoice proof is the wrong circuit.
	other := edit(t, files[0], func(f *prover.ProofFile) { f.VerifyingKeySHA256 = pool.SHA256 })
	if _, err := keys.Verify(other); !errors.Is(err, ledger.ErrWrongCircuit) {
		t.Fatalf("invoice proof naming the pool key: got %v, want ErrWrongCircuit", err)
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
