package export

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"

	"github.com/proofmill/proofmill/errcode"
)

// Errors wrapped by this package, for use with errors.Is. The decoding
// errors have code errcode.BadProofFile.
var (
	ErrNotDecimal    = errcode.New(errcode.BadProofFile, "not a decimal number")
	ErrOutOfRange    = errcode.New(errcode.BadProofFile, "not below the field modulus")
	ErrNotAffine     = errcode.New(errcode.BadProofFile, "third (projective) coordinate is not 1")
	ErrNotOnCurve    = errcode.New(errcode.BadProofFile, "point is not on the curve")
	ErrNotInSubgroup = errcode.New(errcode.BadProofFile, "point is not in the prime-order subgroup")
	ErrCommitments   = errors.New("gnark Pedersen commitments are not supported by snarkjs")
)

// snarkjs's encodings of the point at infinity.
var (
	g1Infinity = [3]string{"0", "1", "0"}
	g2Infinity = [3][2]string{{"0", "0"}, {"1", "0"}, {"0", "0"}}
)

const (
	protocol = "groth16"
	curve    = "bn128" // snarkjs's name for BN254
)

func checkHeader(gotProtocol, gotCurve string) error {
	if gotProtocol != protocol {
		return fmt.Errorf("protocol: got %q, want %q", gotProtocol, protocol)
	}
	if gotCurve != curve {
		return fmt.Errorf("curve: got %q, want %q", gotCurve, curve)
	}
	return nil
}

// parseDecimal parses s, which must be a canonical decimal (digits only,
// no leading zero), as an integer below modulus: one number, one spelling.
func parseDecimal(s string, modulus *big.Int) (*big.Int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" || len(s) > 1 && s[0] == '0' {
		return nil, ErrNotDecimal
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, ErrNotDecimal
	}
	if v.Cmp(modulus) >= 0 {
		return nil, ErrOutOfRange
	}
	return v, nil
}

func parseFp(name, s string) (fp.Element, error) {
	var e fp.Element
	v, err := parseDecimal(s, fp.Modulus())
	if err != nil {
		return e, fmt.Errorf("%s: %w", name, err)
	}
	e.SetBigInt(v)
	return e, nil
}

func parseE2(name string, c [2]string) (bn254.E2, error) {
	var (
		e   bn254.E2
		err error
	)
	if e.A0, err = parseFp(name+"[0]", c[0]); err != nil {
		return e, err
	}
	if e.A1, err = parseFp(name+"[1]", c[1]); err != nil {
		return e, err
	}
	return e, nil
}

// parseG1 parses an affine G1 point other than the point at infinity.
func parseG1(name string, c [3]string) (bn254.G1Affine, error) {
	var (
		p   bn254.G1Affine
		err error
	)
	if c[2] != "1" {
		return p, fmt.Errorf("%s[2]: %w", name, ErrNotAffine)
	}
	if p.X, err = parseFp(name+"[0]", c[0]); err != nil {
		return p, err
	}
	if p.Y, err = parseFp(name+"[1]", c[1]); err != nil {
		return p, err
	}
	// gnark encodes infinity as (0, 0), which is not on the curve.
	if p.IsInfinity() || !p.IsOnCurve() {
		return p, fmt.Errorf("%s: %w", name, ErrNotOnCurve)
	}
	if !p.IsInSubGroup() {
		return p, fmt.Errorf("%s: %w", name, ErrNotInSubgroup)
	}
	return p, nil
}

// parseG2 parses an affine G2 point other than the point at infinity.
func parseG2(name string, c [3][2]string) (bn254.G2Affine, error) {
	var (
		p   bn254.G2Affine
		err error
	)
	if c[2] != [2]string{"1", "0"} {
		return p, fmt.Errorf("%s[2]: %w", name, ErrNotAffine)
	}
	if p.X, err = parseE2(name+"[0]", c[0]); err != nil {
		return p, err
	}
	if p.Y, err = parseE2(name+"[1]", c[1]); err != nil {
		return p, err
	}
	if p.IsInfinity() || !p.IsOnCurve() {
		return p, fmt.Errorf("%s: %w", name, ErrNotOnCurve)
	}
	if !p.IsInSubGroup() {
		return p, fmt.Errorf("%s: %w", name, ErrNotInSubgroup)
	}
	return p, nil
}

// decimal writes e in canonical decimal. Element.String is unsuitable: it
// writes p-1 as "-1".
func decimal(e *fp.Element) string {
	return e.BigInt(new(big.Int)).String()
}

func formatE2(e *bn254.E2) [2]string {
	return [2]string{decimal(&e.A0), decimal(&e.A1)}
}

func formatG1(p *bn254.G1Affine) [3]string {
	if p.IsInfinity() {
		return g1Infinity
	}
	return [3]string{decimal(&p.X), decimal(&p.Y), "1"}
}

func formatG2(p *bn254.G2Affine) [3][2]string {
	if p.IsInfinity() {
		return g2Infinity
	}
	return [3][2]string{formatE2(&p.X), formatE2(&p.Y), {"1", "0"}}
}

// formatGT writes an 𝔽p¹² element as snarkjs does: [c0, c1] of 𝔽p⁶, each
// [b0, b1, b2] of 𝔽p². The towers of gnark and snarkjs are the same.
func formatGT(e *bn254.GT) [2][3][2]string {
	return [2][3][2]string{
		{formatE2(&e.C0.B0), formatE2(&e.C0.B1), formatE2(&e.C0.B2)},
		{formatE2(&e.C1.B0), formatE2(&e.C1.B1), formatE2(&e.C1.B2)},
	}
}

func parseGT(name string, c [2][3][2]string) (bn254.GT, error) {
	var e bn254.GT
	dst := [2][3]*bn254.E2{
		{&e.C0.B0, &e.C0.B1, &e.C0.B2},
		{&e.C1.B0, &e.C1.B1, &e.C1.B2},
	}
	for i := range dst {
		for j := range dst[i] {
			v, err := parseE2(fmt.Sprintf("%s[%d][%d]", name, i, j), c[i][j])
			if err != nil {
				return e, err
			}
			*dst[i][j] = v
		}
	}
	return e, nil
}
