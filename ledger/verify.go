package ledger

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/prover/prooffile"
)

// Proof-file errors.
var (
	// ErrBadProofFile: a proof file is malformed or inconsistent (the
	// parser's error; errors.Is finds it).
	ErrBadProofFile = prooffile.ErrBad
	// ErrNoKeyDigest: the proof file does not name its verifying key. A
	// ledger binds every proof to a pinned key, so the name is required.
	ErrNoKeyDigest = errcode.New(errcode.BadProofFile, "proof file names no verifying key")
	// ErrWrongCircuit: the proof is of another circuit than the key's.
	ErrWrongCircuit = errcode.New(errcode.KeyMismatch, "proof is of another circuit")
	// ErrWrongKey: the proof names another verifying key than this one.
	ErrWrongKey = errcode.New(errcode.KeyMismatch, "proof names another verifying key")
	// ErrUnknownKey: a Keys set has no key with the digest a proof names.
	ErrUnknownKey = errcode.New(errcode.KeyMismatch, "no such verifying key")
	// ErrRejected: the proof does not verify against the key.
	ErrRejected = errcode.New(errcode.ProofRejected, "proof rejected")
)

// Input is a public input by name.
type Input struct {
	Name  string
	Value *big.Int
}

// Statement is what a verified proof shows: its circuit, its key, and its
// public inputs by name. Values are *big.Int, below the BN254 scalar field
// modulus; their decimal String is how proof files spell them.
type Statement struct {
	Circuit            string
	VerifyingKeySHA256 string
	Inputs             []Input     // all public inputs, in circuit order
	Nullifiers         []Nullifier // the inputs the circuit names as nullifiers, in its order
}

// Input returns the named public input's value.
func (s *Statement) Input(name string) (*big.Int, bool) {
	for _, in := range s.Inputs {
		if in.Name == name {
			return in.Value, true
		}
	}
	return nil, false
}

// Proof is a proof file decoded and bound to a key: Decode's checks passed,
// verification not yet done.
type Proof struct {
	key       *Key
	statement *Statement
	proof     *groth16bn254.Proof
	public    fr.Vector
}

// Statement is what the proof claims; it holds once Verify or VerifyProofs
// accepted the proof.
func (p *Proof) Statement() *Statement { return p.statement }

// Decode parses a proof file and checks that it is of the key's circuit
// and names the key's digest.
func (k *Key) Decode(proofFile []byte) (*Proof, error) {
	p, err := k.decode(proofFile)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return p, nil
}

func (k *Key) decode(proofFile []byte) (*Proof, error) {
	d, err := prooffile.Parse(proofFile)
	if err != nil {
		return nil, err
	}
	return k.bind(d)
}

func (k *Key) bind(d *prooffile.Decoded) (*Proof, error) {
	f := d.File
	switch {
	case d.Circuit.ID != k.circuit.ID:
		return nil, fmt.Errorf("%w: the file's circuit is %s, the key's %s", ErrWrongCircuit, d.Circuit.ID, k.circuit.ID)
	case f.VerifyingKeySHA256 == "":
		return nil, fmt.Errorf("%w: verifying_key_sha256 is empty", ErrNoKeyDigest)
	case f.VerifyingKeySHA256 != k.digest:
		return nil, fmt.Errorf("%s: %w: the file names %s, the key is %s", k.circuit.ID, ErrWrongKey, f.VerifyingKeySHA256, k.digest)
	}
	proof, ok := d.Proof.(*groth16bn254.Proof)
	if !ok {
		return nil, fmt.Errorf("%w: not a BN254 proof", ErrBadProofFile)
	}
	public, ok := d.Public.Vector().(fr.Vector)
	if !ok {
		return nil, fmt.Errorf("%w: public inputs are not BN254 scalars", ErrBadProofFile)
	}
	return &Proof{key: k, statement: k.statement(public), proof: proof, public: public}, nil
}

func (k *Key) statement(public fr.Vector) *Statement {
	s := &Statement{Circuit: k.circuit.ID, VerifyingKeySHA256: k.digest, Inputs: make([]Input, len(public))}
	for i, v := range public {
		s.Inputs[i] = Input{Name: k.circuit.PublicInputs[i], Value: v.BigInt(new(big.Int))}
	}
	for _, name := range k.circuit.Nullifiers {
		v, _ := s.Input(name) // the registry's nullifiers are among its inputs (circuits' tests)
		s.Nullifiers = append(s.Nullifiers, Nullifier{Circuit: k.circuit.ID, Name: name, Value: v})
	}
	return s
}

// Verify decodes a proof file and verifies it against the key.
func (k *Key) Verify(proofFile []byte) (*Statement, error) {
	p, err := k.Decode(proofFile)
	if err != nil {
		return nil, err
	}
	if err := k.VerifyProof(p); err != nil {
		return nil, err
	}
	return p.statement, nil
}

// VerifyProof verifies one decoded proof with gnark's verifier (which
// checks the proof's points are on the curve and in the subgroup).
func (k *Key) VerifyProof(p *Proof) error {
	if p.key != k {
		return fmt.Errorf("ledger: %w: the proof was decoded for key %s, not %s", ErrWrongKey, p.key.digest, k.digest)
	}
	if err := groth16bn254.Verify(p.proof, k.vk, p.public); err != nil {
		return fmt.Errorf("ledger: verify %s: %w: %v", k.circuit.ID, ErrRejected, err)
	}
	return nil
}

// Decode parses a proof file and binds it to the key it names.
func (ks *Keys) Decode(proofFile []byte) (*Proof, error) {
	d, err := prooffile.Parse(proofFile)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if d.File.VerifyingKeySHA256 == "" {
		return nil, fmt.Errorf("ledger: %w: verifying_key_sha256 is empty", ErrNoKeyDigest)
	}
	k, ok := ks.Key(d.File.VerifyingKeySHA256)
	if !ok {
		return nil, fmt.Errorf("ledger: %s: %w: the file names %s", d.Circuit.ID, ErrUnknownKey, d.File.VerifyingKeySHA256)
	}
	p, err := k.bind(d)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return p, nil
}

// Verify verifies a proof file against the key it names.
func (ks *Keys) Verify(proofFile []byte) (*Statement, error) {
	p, err := ks.Decode(proofFile)
	if err != nil {
		return nil, err
	}
	if err := p.key.VerifyProof(p); err != nil {
		return nil, err
	}
	return p.statement, nil
}
