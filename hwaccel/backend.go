package hwaccel

import (
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
)

// Backend proves Groth16 statements on some device. Prove takes no context:
// gnark's provers cannot be interrupted, so callers check deadlines before
// calling and isolate devices that may hang.
type Backend interface {
	// Name identifies the backend and device, e.g. "cpu".
	Name() string
	Prove(ccs constraint.ConstraintSystem, pk groth16.ProvingKey, full witness.Witness) (groth16.Proof, error)
}

// CPU proves with gnark on the host's cores.
type CPU struct{}

func (CPU) Name() string { return "cpu" }

func (CPU) Prove(ccs constraint.ConstraintSystem, pk groth16.ProvingKey, full witness.Witness) (groth16.Proof, error) {
	return groth16.Prove(ccs, pk, full)
}
