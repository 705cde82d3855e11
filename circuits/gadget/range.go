package gadget

import (
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/math/bits"
)

// AssertBits constrains v to [0, 2^n). n must be well below the field size
// (at most 200 here), so that a wrapped "negative" p-x never fits.
func AssertBits(api frontend.API, v frontend.Variable, n int) {
	if n <= 0 || n > 200 {
		panic("gadget: range width out of bounds")
	}
	bits.ToBinary(api, v, bits.WithNbDigits(n))
}

// AssertLE constrains a <= b, given that both lie in [0, 2^n): then b-a is in
// [0, 2^n) exactly when a <= b, and a wrapped difference is far larger.
func AssertLE(api frontend.API, a, b frontend.Variable, n int) {
	AssertBits(api, api.Sub(b, a), n)
}
