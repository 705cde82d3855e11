package hwaccel

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
)

type cube struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *cube) Define(api frontend.API) error {
	api.AssertIsEqual(api.Mul(c.X, c.X, c.X), c.Y)
	return nil
}

// The CPU backend's proofs verify, and it refuses a witness that does not
// satisfy the circuit.
func TestCPUBackend(t *testing.T) {
	k := newCubeKeys(t)
	ccs, pk, vk := k.ccs, k.pk, k.vk
	var b Backend = CPU{}
	good, _ := frontend.NewWitness(&cube{X: 3, Y: 27}, ecc.BN254.ScalarField())
	res, err := b.Prove(t.Context(), Job{CCS: ccs, PK: pk, Witness: good})
	if err != nil {
		t.Fatal(err)
	}
	if res.Device != "cpu" {
		t.Fatalf("proved on %q", res.Device)
	}
	public, _ := good.Public()
	if err := groth16.Verify(res.Proof, vk, public); err != nil {
		t.Fatalf("%s proof does not verify: %v", b.Name(), err)
	}
	bad, _ := frontend.NewWitness(&cube{X: 3, Y: 28}, ecc.BN254.ScalarField())
	if _, err := b.Prove(t.Context(), Job{CCS: ccs, PK: pk, Witness: bad}); err == nil || errors.Is(err, ErrDevice) {
		t.Fatal("proved a false statement")
	}
}
