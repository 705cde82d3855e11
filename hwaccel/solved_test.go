package hwaccel_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"

	"github.com/proofmill/proofmill/hwaccel"
)

type cubic struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *cubic) Define(api frontend.API) error {
	api.AssertIsEqual(api.Add(api.Mul(c.X, c.X, c.X), c.X, 5), c.Y)
	return nil
}

// Each CPU proof is told its own solve's end, exactly once, before Prove
// returns, however many run at once; a job that does not ask is not told.
func TestCPUReportsSolved(t *testing.T) {
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &cubic{})
	if err != nil {
		t.Fatal(err)
	}
	pk, _, err := groth16.Setup(ccs)
	if err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(&cubic{X: 3, Y: 35}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	const proofs = 8
	var wg sync.WaitGroup
	counts := make([]atomic.Int32, proofs)
	for i := range proofs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job := hwaccel.Job{CCS: ccs, PK: pk, Witness: w}
			if i%2 == 0 {
				job.Solved = func() { counts[i].Add(1) }
			}
			if _, err := (hwaccel.CPU{}).Prove(context.Background(), job); err != nil {
				t.Error(err)
			}
			if want := int32(1 - i%2); counts[i].Load() != want {
				t.Errorf("proof %d: told of its solve %d times, want %d", i, counts[i].Load(), want)
			}
		}()
	}
	wg.Wait()
}
