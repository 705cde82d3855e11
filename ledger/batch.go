package ledger

import (
	"crypto/rand"
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/proofmill/proofmill/errcode"
)

// ErrEmptyBatch: a batch with no proofs. It is refused rather than
// trivially accepted: a ledger that verifies nothing has usually lost its
// input.
var ErrEmptyBatch = errcode.New(errcode.BadRequest, "empty batch")

// BatchError: a batch failed its pairing check. Bad lists the proofs (by
// index into the batch) that fail on their own.
type BatchError struct {
	Bad []int
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("ledger: batch: %v: proofs %v fail on their own", ErrRejected, e.Bad)
}

// Unwrap makes a BatchError ErrRejected to errors.Is.
func (e *BatchError) Unwrap() error { return ErrRejected }

// VerifyBatch decodes and verifies proof files of the key, all at once;
// see VerifyProofs. The statements are in the files' order.
func (k *Key) VerifyBatch(proofFiles [][]byte) ([]*Statement, error) {
	proofs := make([]*Proof, len(proofFiles))
	for i, f := range proofFiles {
		p, err := k.decode(f)
		if err != nil {
			return nil, fmt.Errorf("ledger: batch: proof %d: %w", i, err)
		}
		proofs[i] = p
	}
	if err := k.VerifyProofs(proofs...); err != nil {
		return nil, err
	}
	out := make([]*Statement, len(proofs))
	for i, p := range proofs {
		out[i] = p.statement
	}
	return out, nil
}

// VerifyProofs verifies proofs of the key with one pairing check over a
// random linear combination of their verification equations: with
// 128-bit random r_i,
//
//	∏ e(r_i·A_i, B_i) · e(−(Σr_i)·α, β) · e(−Σr_i·L_i, γ) · e(−Σr_i·C_i, δ) = 1
//
// where L_i = K_0 + Σ_j x_ij·K_{j+1} is proof i's public-input term. The
// r_i are drawn after the proofs are fixed, so a batch holding a proof
// that fails on its own passes with probability about 2⁻¹²⁷ (the scalars
// have 127 random bits). It costs a 128-bit scalar multiplication and one
// pair of the Miller loop a proof, and one final exponentiation in all,
// where one by one costs three pairs and a final exponentiation a proof.
//
// Every proof's points are checked to be on the curve and in the subgroup,
// as gnark's verifier does. When the check fails, each proof is verified on
// its own to name the bad ones in a *BatchError.
func (k *Key) VerifyProofs(proofs ...*Proof) error {
	if len(proofs) == 0 {
		return fmt.Errorf("ledger: batch: %w", ErrEmptyBatch)
	}
	for i, p := range proofs {
		if err := k.checkProof(p); err != nil {
			return fmt.Errorf("ledger: batch: proof %d: %w", i, err)
		}
	}
	ok, err := k.pairingCheck(proofs)
	if err != nil {
		return fmt.Errorf("ledger: batch: %w", err)
	}
	if ok {
		return nil
	}
	bad := &BatchError{}
	for i, p := range proofs {
		if k.VerifyProof(p) != nil {
			bad.Bad = append(bad.Bad, i)
		}
	}
	return bad
}

// checkProof holds what gnark's verifier checks before its pairings.
// Decode's parser checked it too; a batch must not rest on that.
func (k *Key) checkProof(p *Proof) error {
	switch q := p.proof; {
	case p.key != k:
		return fmt.Errorf("%w: decoded for key %s, not %s", ErrWrongKey, p.key.digest, k.digest)
	case len(p.public) != len(k.vk.G1.K)-1:
		return fmt.Errorf("%w: %d public inputs, the key has %d", ErrBadProofFile, len(p.public), len(k.vk.G1.K)-1)
	case len(q.Commitments) != 0:
		return fmt.Errorf("%w: the proof has commitments", ErrBadProofFile)
	case !q.Ar.IsOnCurve() || !q.Ar.IsInSubGroup() || !q.Krs.IsOnCurve() || !q.Krs.IsInSubGroup() || !q.Bs.IsOnCurve() || !q.Bs.IsInSubGroup():
		return fmt.Errorf("%w: a point is not on the curve or not in the subgroup", ErrRejected)
	}
	return nil // the public inputs are fr.Elements: below r by construction
}

func (k *Key) pairingCheck(proofs []*Proof) (bool, error) {
	n := len(proofs)
	r, err := randomScalars(n)
	if err != nil {
		return false, err
	}
	P := make([]bn254.G1Affine, n+3)
	Q := make([]bn254.G2Affine, n+3)
	// coeffs[0] multiplies K_0, coeffs[j+1] multiplies K_{j+1}: Σr_i and
	// Σ_i r_i·x_ij, so Σ r_i·L_i is one multi-exponentiation over K.
	coeffs := make([]fr.Element, len(k.vk.G1.K))
	krs := make([]bn254.G1Affine, n)
	var ri big.Int
	var t fr.Element
	for i, p := range proofs {
		r[i].BigInt(&ri)
		P[i].ScalarMultiplication(&p.proof.Ar, &ri)
		Q[i] = p.proof.Bs
		krs[i] = p.proof.Krs
		coeffs[0].Add(&coeffs[0], &r[i])
		for j := range p.public {
			t.Mul(&r[i], &p.public[j])
			coeffs[j+1].Add(&coeffs[j+1], &t)
		}
	}
	var alpha, sumL, sumC bn254.G1Affine
	if _, err := sumL.MultiExp(k.vk.G1.K, coeffs, ecc.MultiExpConfig{}); err != nil {
		return false, err
	}
	if _, err := sumC.MultiExp(krs, r, ecc.MultiExpConfig{}); err != nil {
		return false, err
	}
	alpha.ScalarMultiplication(&k.vk.G1.Alpha, coeffs[0].BigInt(&ri))
	P[n].Neg(&alpha)
	Q[n] = k.vk.G2.Beta
	P[n+1].Neg(&sumL)
	Q[n+1] = k.vk.G2.Gamma
	P[n+2].Neg(&sumC)
	Q[n+2] = k.vk.G2.Delta
	return bn254.PairingCheck(P, Q)
}

// randomScalars returns n nonzero 128-bit scalars from crypto/rand.
func randomScalars(n int) ([]fr.Element, error) {
	buf := make([]byte, 16*n)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("random scalars: %w", err)
	}
	r := make([]fr.Element, n)
	for i := range r {
		b := buf[16*i : 16*(i+1)]
		b[0] |= 0x80 // nonzero: the top bit set leaves 127 random bits
		r[i].SetBytes(b)
	}
	return r, nil
}
