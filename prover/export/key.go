package export

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// VerifyingKey is snarkjs's verification_key.json layout for Groth16 over
// BN254.
type VerifyingKey struct {
	Protocol    string          `json:"protocol"`
	Curve       string          `json:"curve"`
	NPublic     int             `json:"nPublic"`
	Alpha1      [3]string       `json:"vk_alpha_1"`
	Beta2       [3][2]string    `json:"vk_beta_2"`
	Gamma2      [3][2]string    `json:"vk_gamma_2"`
	Delta2      [3][2]string    `json:"vk_delta_2"`
	AlphaBeta12 [2][3][2]string `json:"vk_alphabeta_12"` // e(alpha, beta)
	IC          [][3]string     `json:"IC"`              // one point per public input, plus the constant
}

// FromGnarkVerifyingKey converts a gnark BN254 Groth16 verifying key to
// snarkjs's layout.
func FromGnarkVerifyingKey(vk groth16.VerifyingKey) (VerifyingKey, error) {
	bvk, ok := vk.(*groth16bn254.VerifyingKey)
	if !ok || bvk == nil {
		return VerifyingKey{}, fmt.Errorf("export: encode verifying key: got %T, want a BN254 key", vk)
	}
	if len(bvk.CommitmentKeys) > 0 || len(bvk.PublicAndCommitmentCommitted) > 0 {
		return VerifyingKey{}, fmt.Errorf("export: encode verifying key: %w", ErrCommitments)
	}
	if len(bvk.G1.K) == 0 {
		return VerifyingKey{}, fmt.Errorf("export: encode verifying key: no IC points")
	}
	alphaBeta, err := bn254.Pair([]bn254.G1Affine{bvk.G1.Alpha}, []bn254.G2Affine{bvk.G2.Beta})
	if err != nil {
		return VerifyingKey{}, fmt.Errorf("export: encode verifying key: pair alpha and beta: %w", err)
	}
	ic := make([][3]string, len(bvk.G1.K))
	for i := range bvk.G1.K {
		ic[i] = formatG1(&bvk.G1.K[i])
	}
	return VerifyingKey{
		Protocol:    protocol,
		Curve:       curve,
		NPublic:     len(ic) - 1,
		Alpha1:      formatG1(&bvk.G1.Alpha),
		Beta2:       formatG2(&bvk.G2.Beta),
		Gamma2:      formatG2(&bvk.G2.Gamma),
		Delta2:      formatG2(&bvk.G2.Delta),
		AlphaBeta12: formatGT(&alphaBeta),
		IC:          ic,
	}, nil
}

// ToGnark parses vk into a gnark BN254 Groth16 verifying key, with the same
// checks as [Proof.ToGnark]. vk_alphabeta_12 may be left empty; if present it
// must equal e(vk_alpha_1, vk_beta_2). The key's G1.Beta and G1.Delta, which
// snarkjs does not record and gnark's verifier does not use, are left zero.
func (vk VerifyingKey) ToGnark() (groth16.VerifyingKey, error) {
	key, err := vk.parse()
	if err != nil {
		return nil, fmt.Errorf("export: parse verifying key: %w", err)
	}
	return key, nil
}

func (vk VerifyingKey) parse() (*groth16bn254.VerifyingKey, error) {
	if err := checkHeader(vk.Protocol, vk.Curve); err != nil {
		return nil, err
	}
	if vk.NPublic < 0 || len(vk.IC) != vk.NPublic+1 {
		return nil, fmt.Errorf("IC: got %d points, want nPublic+1 = %d", len(vk.IC), vk.NPublic+1)
	}
	var (
		out groth16bn254.VerifyingKey
		err error
	)
	if out.G1.Alpha, err = parseG1("vk_alpha_1", vk.Alpha1); err != nil {
		return nil, err
	}
	if out.G2.Beta, err = parseG2("vk_beta_2", vk.Beta2); err != nil {
		return nil, err
	}
	if out.G2.Gamma, err = parseG2("vk_gamma_2", vk.Gamma2); err != nil {
		return nil, err
	}
	if out.G2.Delta, err = parseG2("vk_delta_2", vk.Delta2); err != nil {
		return nil, err
	}
	out.G1.K = make([]bn254.G1Affine, len(vk.IC))
	for i, c := range vk.IC {
		if c == g1Infinity {
			continue // K[i] is already the point at infinity
		}
		if out.G1.K[i], err = parseG1(fmt.Sprintf("IC[%d]", i), c); err != nil {
			return nil, err
		}
	}
	if vk.AlphaBeta12 != ([2][3][2]string{}) {
		if err := checkAlphaBeta(vk.AlphaBeta12, &out.G1.Alpha, &out.G2.Beta); err != nil {
			return nil, err
		}
	}
	if err := out.Precompute(); err != nil {
		return nil, fmt.Errorf("precompute: %w", err)
	}
	return &out, nil
}

func checkAlphaBeta(c [2][3][2]string, alpha *bn254.G1Affine, beta *bn254.G2Affine) error {
	got, err := parseGT("vk_alphabeta_12", c)
	if err != nil {
		return err
	}
	want, err := bn254.Pair([]bn254.G1Affine{*alpha}, []bn254.G2Affine{*beta})
	if err != nil {
		return fmt.Errorf("vk_alphabeta_12: %w", err)
	}
	if !got.Equal(&want) {
		return fmt.Errorf("vk_alphabeta_12: not equal to e(vk_alpha_1, vk_beta_2)")
	}
	return nil
}
