package prover

import (
	"fmt"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"

	"github.com/proofmill/proofmill/circuits"
)

var compiled sync.Map // circuit id → func() (constraint.ConstraintSystem, error)

// Compile returns the R1CS of a circuit over BN254, compiling it at most once
// per process.
func Compile(c *circuits.Circuit) (constraint.ConstraintSystem, error) {
	once, _ := compiled.LoadOrStore(c.ID, sync.OnceValues(func() (constraint.ConstraintSystem, error) {
		ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, c.New())
		if err != nil {
			return nil, fmt.Errorf("prover: compile %s: %w", c.ID, err)
		}
		return ccs, nil
	}))
	return once.(func() (constraint.ConstraintSystem, error))()
}
