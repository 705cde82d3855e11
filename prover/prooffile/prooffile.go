// Package prooffile is the proof file that `proofmill prove` writes and
// `proofmill verify` reads, and its parser. It is apart from package
// prover so that verifiers without the service (package ledger) can read
// proof files without the key store, the ceremony or the GPU code.
package prooffile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/prover/export"
)

// ErrBad: a proof file is malformed or inconsistent.
var ErrBad = errcode.New(errcode.BadProofFile, "bad proof file")

// NamedValue is a public input by name, as a decimal string.
type NamedValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// File is what `proofmill prove` writes and `proofmill verify` reads.
// Proof and PublicSignals are snarkjs's proof.json and public.json, so
// non-Go tooling can verify with the circuit's verification_key.json.
type File struct {
	Circuit            string       `json:"circuit"`
	VerifyingKeySHA256 string       `json:"verifying_key_sha256"`
	Backend            string       `json:"backend,omitempty"`
	PublicInputs       []NamedValue `json:"public_inputs"`
	PublicSignals      []string     `json:"public_signals"`
	Proof              export.Proof `json:"proof"`
	GnarkProof         []byte       `json:"gnark_proof"` // gnark's compressed binary encoding, base64
	// EVMCalldata is the proof and public inputs as an EVM verifier takes
	// them (see export.Calldata); absent from files made before it.
	EVMCalldata *export.Calldata `json:"evm_calldata,omitempty"`
}

// Decoded is a proof file with its parts decoded for gnark.
type Decoded struct {
	File    *File
	Circuit *circuits.Circuit
	Proof   groth16.Proof
	Public  witness.Witness
}

// proofSize is the length of gnark's compressed encoding of a BN254
// Groth16 proof without commitments (proofmill's circuits have none).
// gnark's decoder allocates what a length prefix inside says before it
// reads the data, so other lengths are refused before it sees them.
var proofSize = func() int {
	var b bytes.Buffer
	if _, err := groth16.NewProof(ecc.BN254).WriteTo(&b); err != nil {
		panic(err)
	}
	return b.Len()
}()

// commitmentsAt is where the encoding holds its number of commitments:
// before the last point (the commitments' proof of knowledge).
var commitmentsAt = proofSize - 32 - 4

// DecodeProof decodes gnark's binary encoding of a proof without
// commitments: proofSize bytes, with a commitment count of 0 (gnark would
// allocate whatever count it finds before reading). Anything else is
// ErrBad.
func DecodeProof(data []byte) (groth16.Proof, error) {
	if len(data) != proofSize {
		return nil, fmt.Errorf("prooffile: %w: gnark_proof: %d bytes, want %d (a BN254 proof without commitments)", ErrBad, len(data), proofSize)
	}
	if n := binary.BigEndian.Uint32(data[commitmentsAt:]); n != 0 {
		return nil, fmt.Errorf("prooffile: %w: gnark_proof: %d commitments, want none", ErrBad, n)
	}
	p := groth16.NewProof(ecc.BN254)
	if _, err := p.ReadFrom(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("prooffile: %w: gnark_proof: %v", ErrBad, err)
	}
	return p, nil
}

// Parse decodes a proof file and checks that its parts agree: the named
// public inputs match the signals and the circuit's input names, and the
// gnark encoding (when present) is the same proof as the snarkjs one.
func Parse(data []byte) (*Decoded, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("prooffile: %w: %s", ErrBad, fmt.Sprintf(format, args...))
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fail("%v", err)
	}
	c, err := circuits.Lookup(f.Circuit)
	if err != nil {
		return nil, err
	}
	if len(f.PublicSignals) != len(c.PublicInputs) {
		return nil, fail("%d public signals, %s has %d public inputs", len(f.PublicSignals), c.ID, len(c.PublicInputs))
	}
	if len(f.PublicInputs) != 0 {
		if len(f.PublicInputs) != len(c.PublicInputs) {
			return nil, fail("%d named public inputs, %s has %d", len(f.PublicInputs), c.ID, len(c.PublicInputs))
		}
		for i, in := range f.PublicInputs {
			if in.Name != c.PublicInputs[i] || in.Value != f.PublicSignals[i] {
				return nil, fail("public_inputs[%d] (%s = %s) disagrees with public_signals[%d] (%s = %s)",
					i, in.Name, in.Value, i, c.PublicInputs[i], f.PublicSignals[i])
			}
		}
	}
	proof, err := f.Proof.ToGnark()
	if err != nil {
		return nil, fmt.Errorf("prooffile: %w: %w", ErrBad, err)
	}
	if len(f.GnarkProof) > 0 {
		bin, err := DecodeProof(f.GnarkProof)
		if err != nil {
			return nil, err
		}
		var a, b bytes.Buffer
		proof.WriteTo(&a)
		bin.WriteTo(&b)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			return nil, fail("gnark_proof and proof are different proofs")
		}
	}
	public, err := export.PublicWitness(f.PublicSignals)
	if err != nil {
		return nil, fmt.Errorf("prooffile: %w: %w", ErrBad, err)
	}
	return &Decoded{File: &f, Circuit: c, Proof: proof, Public: public}, nil
}
