package hwaccel

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
)

// Each CPU proof is told its own solve's end, exactly once, before Prove
// returns, however many run at once; a job that does not ask is not told.
func TestCPUReportsSolved(t *testing.T) {
	k := newCubeKeys(t)
	w, err := frontend.NewWitness(&cube{X: 3, Y: 27}, ecc.BN254.ScalarField())
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
			job := Job{CCS: k.ccs, PK: k.pk, Witness: w}
			if i%2 == 0 {
				job.Solved = func() { counts[i].Add(1) }
			}
			if _, err := (CPU{}).Prove(t.Context(), job); err != nil {
				t.Error(err)
			}
			if want := int32(1 - i%2); counts[i].Load() != want {
				t.Errorf("proof %d: told of its solve %d times, want %d", i, counts[i].Load(), want)
			}
		}()
	}
	wg.Wait()
}
