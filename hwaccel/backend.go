package hwaccel

import (
	"context"
	"errors"
	"fmt"

	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
)

// Job is one proof for a Backend.
type Job struct {
	Circuit string // circuit id: an isolated device loads its own keys by it
	CCS     constraint.ConstraintSystem
	PK      groth16.ProvingKey
	Witness witness.Witness // the full witness
	// Solved, when set, is called once the witness is solved and the
	// proof's MSMs begin, by a backend that can tell (CPU); others never
	// call it.
	Solved func()
}

// Result is a proof and the device that made it. Proofs are not verified
// by backends: the caller verifies each one once and, when Verified is
// set, tells the device the outcome, so that a device whose proofs fail
// verification is counted as failing.
type Result struct {
	Proof    groth16.Proof
	Device   string // e.g. "cpu", "cuda:0"
	Verified func(ok bool)
}

// Backend proves Groth16 statements on some device. gnark's provers cannot
// be interrupted: ctx is checked before starting, and devices that may hang
// run in processes of their own (see Isolated), which also stop a proof
// whose ctx ends by killing its process. CPU proves in this process, where
// a proof once started runs to its end.
type Backend interface {
	// Name identifies the backend: a device ("cpu", "cuda:0"), or a kind
	// of devices for a pool of them ("cuda").
	Name() string
	// Prove proves job. An error matching ErrDevice is the device's fault
	// (the statement may well hold: prove it elsewhere); any other error
	// means the witness does not satisfy the circuit.
	Prove(ctx context.Context, job Job) (Result, error)
}

// ErrDevice marks a failure of the device rather than of the statement.
var ErrDevice = errors.New("device failure")

// DeviceError says which device failed and how.
type DeviceError struct {
	Device string
	Reason string // crashed, hung, rejected, unhealthy, restarting, unavailable
	Err    error
}

func (e *DeviceError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s", e.Device, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %v", e.Device, e.Reason, e.Err)
}

func (e *DeviceError) Unwrap() []error { return []error{ErrDevice, e.Err} }

// CPU proves with gnark on the host's cores.
type CPU struct{}

func (CPU) Name() string { return "cpu" }

func (c CPU) Prove(ctx context.Context, job Job) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	defer whenSolved(job.Solved)()
	proof, err := groth16.Prove(job.CCS, job.PK, job.Witness)
	return Result{Proof: proof, Device: c.Name()}, err
}
