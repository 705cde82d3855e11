package prover

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/proofmill/proofmill/circuits"
)

// FuzzParseProofFile feeds the proof-file decoder (JSON, snarkjs points,
// gnark's binary proof, public signals) arbitrary bytes: it must not panic
// or allocate without bound, and must fail with ErrBadProofFile or an
// unknown circuit.
//
//	go test ./prover -run '^$' -fuzz FuzzParseProofFile -fuzztime 30s
func FuzzParseProofFile(f *testing.F) {
	seed, err := os.ReadFile("testdata/invoice-proof.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseProofFile(data)
		if err != nil {
			if !errors.Is(err, ErrBadProofFile) && !errors.Is(err, circuits.ErrUnknownCircuit) {
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
		if _, err := DecodeProof(data); err != nil && !errors.Is(err, ErrBadProofFile) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}

// FuzzProvingKeyDump: a proving-key dump that passes checkDump decodes
// without a panic and allocates no more than the file holds; the seed is
// the cubic test circuit's development key.
//
//	go test ./prover -run '^$' -fuzz FuzzProvingKeyDump -fuzztime 30s
func FuzzProvingKeyDump(f *testing.F) {
	k, err := Setup(cubicCircuit, quietLog)
	if err != nil {
		f.Fatal(err)
	}
	var dump bytes.Buffer
	if err := k.PK.(*groth16bn254.ProvingKey).WriteDump(&dump); err != nil {
		f.Fatal(err)
	}
	f.Add(dump.Bytes())
	domain := ecc.NextPowerOfTwo(uint64(k.CCS.GetNbConstraints()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkDump(bytes.NewReader(data), int64(len(data)), domain) != nil {
			return
		}
		var pk groth16bn254.ProvingKey
		pk.ReadDump(bytes.NewReader(data)) // may fail; must not panic
	})
}
