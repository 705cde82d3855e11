package gadget

import (
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	nativeposeidon2 "github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/permutation/poseidon2"
)

// Hasher hashes inside a circuit. Create one per Define: the permutation's
// round constants are prepared once.
type Hasher struct {
	api  frontend.API
	perm *poseidon2.Permutation
}

// NewHasher returns a Poseidon2 hasher (width 2, BN254 default parameters).
func NewHasher(api frontend.API) (*Hasher, error) {
	perm, err := poseidon2.NewPoseidon2(api)
	if err != nil {
		return nil, err
	}
	return &Hasher{api: api, perm: perm}, nil
}

// Hash is the Merkle–Damgård Poseidon2 hash of vs (zero IV), as in gnark's
// std/hash/poseidon2 and gnark-crypto's NewMerkleDamgardHasher.
func (h *Hasher) Hash(vs ...frontend.Variable) frontend.Variable {
	var state frontend.Variable = 0
	for _, v := range vs {
		state = h.perm.Compress(state, v)
	}
	return state
}

// Compress is the Poseidon2 2-to-1 compression used for Merkle nodes.
func (h *Hasher) Compress(left, right frontend.Variable) frontend.Variable {
	return h.perm.Compress(left, right)
}

var nativePerm = nativeposeidon2.NewDefaultPermutation()

// Hash computes natively what Hasher.Hash computes in a circuit. Inputs must
// be below the field modulus (every decoder checks this).
func Hash(vs ...*big.Int) *big.Int {
	h := nativeposeidon2.NewMerkleDamgardHasher()
	for _, v := range vs {
		b := element(v).Bytes()
		h.Write(b[:])
	}
	var out fr.Element
	out.SetBytes(h.Sum(nil))
	return out.BigInt(new(big.Int))
}

// Compress computes natively what Hasher.Compress computes in a circuit.
func Compress(left, right *big.Int) *big.Int {
	l, r := element(left).Bytes(), element(right).Bytes()
	b, err := nativePerm.Compress(l[:], r[:])
	if err != nil {
		panic(err) // unreachable: canonical encodings of reduced elements
	}
	var out fr.Element
	out.SetBytes(b)
	return out.BigInt(new(big.Int))
}

func element(v *big.Int) *fr.Element {
	var e fr.Element
	e.SetBigInt(v)
	return &e
}

// Tag turns a short ASCII domain-separation label into a field element.
func Tag(label string) *big.Int {
	if len(label) > 31 {
		panic("gadget: tag longer than 31 bytes: " + label)
	}
	return new(big.Int).SetBytes([]byte(label))
}
