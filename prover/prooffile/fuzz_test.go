package prooffile

import (
	"errors"
	"os"
	"testing"

	"github.com/proofmill/proofmill/circuits"
)

// FuzzParseProofFile feeds the proof-file decoder (JSON, snarkjs points,
// gnark's binary proof, public signals) arbitrary bytes: it must not panic
// or allocate without bound, and must fail with ErrBad or an
// unknown circuit.
//
//	go test ./prover/prooffile -run '^$' -fuzz FuzzParseProofFile -fuzztime 30s
func FuzzParseProofFile(f *testing.F) {
	seed, err := os.ReadFile("testdata/invoice-proof.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrBad) && !errors.Is(err, circuits.ErrUnknownCircuit) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if d.Proof == nil || d.Public == nil || d.Circuit == nil {
			t.Fatal("a proof file parsed into nothing")
		}
	})
}

// FuzzDecodeProof: gnark's binary proof decoder sees only inputs of the one
// valid length, and never panics on them.
func FuzzDecodeProof(f *testing.F) {
	f.Add(make([]byte, proofSize))
	huge := make([]byte, proofSize)
	for i := range huge {
		huge[i] = 0xff
	}
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeProof(data); err != nil && !errors.Is(err, ErrBad) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
