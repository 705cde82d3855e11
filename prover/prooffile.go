package prover

import (
	"bytes"
	"fmt"

	"github.com/consensys/gnark/backend/groth16"

	"github.com/proofmill/proofmill/prover/export"
	"github.com/proofmill/proofmill/prover/prooffile"
)

// The proof file and its parser live in package prooffile, which verifiers
// without the service (package ledger) import; these names keep prover's
// callers as they were.
type (
	ProofFile    = prooffile.File
	NamedValue   = prooffile.NamedValue
	DecodedProof = prooffile.Decoded
)

// ErrBadProofFile: a proof file is malformed or inconsistent.
var ErrBadProofFile = prooffile.ErrBad

// DecodeProof decodes gnark's binary encoding of a proof (prooffile.DecodeProof).
func DecodeProof(data []byte) (groth16.Proof, error) { return prooffile.DecodeProof(data) }

// ParseProofFile decodes a proof file and checks that its parts agree (prooffile.Parse).
func ParseProofFile(data []byte) (*DecodedProof, error) { return prooffile.Parse(data) }

// File encodes a verified proof.
func (p *Proof) File() (*ProofFile, error) {
	proof, err := export.FromGnarkProof(p.Proof)
	if err != nil {
		return nil, err
	}
	signals, err := export.PublicSignals(p.Public)
	if err != nil {
		return nil, err
	}
	var bin bytes.Buffer
	if _, err := p.Proof.WriteTo(&bin); err != nil {
		return nil, fmt.Errorf("prover: encode proof: %w", err)
	}
	calldata, err := export.CalldataOf(p.Proof, signals)
	if err != nil {
		return nil, err
	}
	return &prooffile.File{Circuit: p.Circuit.ID, VerifyingKeySHA256: p.VerifyingKeyHash, Backend: p.Backend,
		PublicInputs: p.PublicInputs, PublicSignals: signals, Proof: proof, GnarkProof: bin.Bytes(), EVMCalldata: &calldata}, nil
}

// VerifyFile checks a proof file against the key store: the verifying key
// must be the one the proof names, and the proof must verify.
func (p *Prover) VerifyFile(data []byte) (*ProofFile, error) {
	d, err := ParseProofFile(data)
	if err != nil {
		return nil, err
	}
	f, c := d.File, d.Circuit
	vk, hash, err := p.store.LoadVerifyingKey(c.ID)
	if err != nil {
		return nil, err
	}
	if f.VerifyingKeySHA256 != "" && f.VerifyingKeySHA256 != hash {
		return nil, fmt.Errorf("prover: verify %s: %w: made with verifying key %s, the key store has %s",
			c.ID, ErrProofRejected, f.VerifyingKeySHA256, hash)
	}
	if err := groth16.Verify(d.Proof, vk, d.Public); err != nil {
		return nil, fmt.Errorf("prover: verify %s: %w: %v", c.ID, ErrProofRejected, err)
	}
	return f, nil
}
