package export

import (
	"fmt"

	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// Proof is snarkjs's proof.json layout for Groth16 over BN254.
type Proof struct {
	PiA      [3]string    `json:"pi_a"` // ["x", "y", "1"]
	PiB      [3][2]string `json:"pi_b"` // [["x.c0", "x.c1"], ["y.c0", "y.c1"], ["1", "0"]]
	PiC      [3]string    `json:"pi_c"` // ["x", "y", "1"]
	Protocol string       `json:"protocol"`
	Curve    string       `json:"curve"`
}

// FromGnarkProof converts a gnark BN254 Groth16 proof to snarkjs's layout.
func FromGnarkProof(p groth16.Proof) (Proof, error) {
	bp, ok := p.(*groth16bn254.Proof)
	if !ok || bp == nil {
		return Proof{}, fmt.Errorf("export: encode proof: got %T, want a BN254 proof", p)
	}
	if len(bp.Commitments) > 0 || !bp.CommitmentPok.IsInfinity() {
		return Proof{}, fmt.Errorf("export: encode proof: %w", ErrCommitments)
	}
	return Proof{
		PiA:      formatG1(&bp.Ar),
		PiB:      formatG2(&bp.Bs),
		PiC:      formatG1(&bp.Krs),
		Protocol: protocol,
		Curve:    curve,
	}, nil
}

// ToGnark parses p into a gnark BN254 Groth16 proof, checking that every
// coordinate is canonical and every point is on the curve and in the
// prime-order subgroup.
func (p Proof) ToGnark() (groth16.Proof, error) {
	proof, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("export: parse proof: %w", err)
	}
	return proof, nil
}

func (p Proof) parse() (*groth16bn254.Proof, error) {
	if err := checkHeader(p.Protocol, p.Curve); err != nil {
		return nil, err
	}
	var (
		out groth16bn254.Proof
		err error
	)
	if out.Ar, err = parseG1("pi_a", p.PiA); err != nil {
		return nil, err
	}
	if out.Bs, err = parseG2("pi_b", p.PiB); err != nil {
		return nil, err
	}
	if out.Krs, err = parseG1("pi_c", p.PiC); err != nil {
		return nil, err
	}
	return &out, nil
}
