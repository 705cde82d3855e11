package bench

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
)

// synthetic is a circuit of exactly 2^logN constraints, for the size
// sweep: x is squared 2^logN − 1 times (adding i after the i-th square,
// which costs nothing), and the result must equal the public Y.
type synthetic struct {
	X    frontend.Variable
	Y    frontend.Variable `gnark:",public"`
	logN int
}

func (c *synthetic) Define(api frontend.API) error {
	x := c.X
	for i := range 1<<c.logN - 1 {
		x = api.Add(api.Mul(x, x), i+1)
	}
	api.AssertIsEqual(x, c.Y)
	return nil
}

func syntheticID(logN int) string { return fmt.Sprintf("synthetic-2^%d", logN) }

// syntheticAssignment is a satisfying witness, computed natively.
func syntheticAssignment(logN int) *synthetic {
	var x, add fr.Element
	x.SetUint64(3)
	start := x
	for i := range 1<<logN - 1 {
		add.SetUint64(uint64(i + 1))
		x.Square(&x).Add(&x, &add)
	}
	return &synthetic{X: start, Y: x, logN: logN}
}
