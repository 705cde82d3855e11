package bench

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/test"
)

func TestSyntheticSize(t *testing.T) {
	for logN := 1; logN <= 8; logN++ {
		ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &synthetic{logN: logN})
		if err != nil {
			t.Fatal(err)
		}
		if got := ccs.GetNbConstraints(); got != 1<<logN {
			t.Errorf("2^%d: %d constraints", logN, got)
		}
	}
}

func TestSyntheticWitness(t *testing.T) {
	const logN = 5
	good := syntheticAssignment(logN)
	wrong := syntheticAssignment(logN)
	wrong.Y = 4
	test.NewAssert(t).CheckCircuit(&synthetic{logN: logN},
		test.WithValidAssignment(good), test.WithInvalidAssignment(wrong),
		test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing())
}
