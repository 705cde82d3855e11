package gadget

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"
)

type hashCircuit struct {
	In       [3]frontend.Variable
	Hash     frontend.Variable `gnark:",public"`
	Compress frontend.Variable `gnark:",public"`
}

func (c *hashCircuit) Define(api frontend.API) error {
	h, err := NewHasher(api)
	if err != nil {
		return err
	}
	api.AssertIsEqual(c.Hash, h.Hash(c.In[:]...))
	api.AssertIsEqual(c.Compress, h.Compress(c.In[0], c.In[1]))
	return nil
}

// The native hash and compression equal the in-circuit ones, including for
// inputs next to the modulus.
func TestNativeEqualsCircuit(t *testing.T) {
	pMinus1 := new(big.Int).Sub(fr.Modulus(), big.NewInt(1))
	for _, in := range [][3]*big.Int{
		{big.NewInt(0), big.NewInt(0), big.NewInt(0)},
		{big.NewInt(1), big.NewInt(2), big.NewInt(3)},
		{pMinus1, Tag("proofmill/test"), big.NewInt(42)},
	} {
		w := &hashCircuit{In: [3]frontend.Variable{in[0], in[1], in[2]}, Hash: Hash(in[:]...), Compress: Compress(in[0], in[1])}
		wrong := &hashCircuit{In: w.In, Hash: Hash(in[0], in[1]), Compress: w.Compress}
		test.NewAssert(t).CheckCircuit(&hashCircuit{}, test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16),
			test.NoFuzzing(), test.WithValidAssignment(w), test.WithInvalidAssignment(wrong))
	}
}

type rangeCircuit struct {
	V, A, B frontend.Variable
}

func (c *rangeCircuit) Define(api frontend.API) error {
	AssertBits(api, c.V, 8)
	AssertLE(api, c.A, c.B, 8)
	return nil
}

func TestRangeChecks(t *testing.T) {
	p := fr.Modulus()
	pMinus := func(x int64) *big.Int { return new(big.Int).Sub(p, big.NewInt(x)) }
	test.NewAssert(t).CheckCircuit(&rangeCircuit{}, test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing(),
		test.WithValidAssignment(&rangeCircuit{V: 255, A: 3, B: 3}),
		test.WithValidAssignment(&rangeCircuit{V: 0, A: 0, B: 255}),
		test.WithInvalidAssignment(&rangeCircuit{V: 256, A: 0, B: 0}),
		test.WithInvalidAssignment(&rangeCircuit{V: pMinus(1), A: 0, B: 0}),
		test.WithInvalidAssignment(&rangeCircuit{V: 0, A: 4, B: 3}),
		test.WithInvalidAssignment(&rangeCircuit{V: 0, A: 0, B: pMinus(1)}),
	)
}
