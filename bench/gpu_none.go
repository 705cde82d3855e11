//go:build !icicle

package bench

import (
	"context"

	"github.com/proofmill/proofmill/hwaccel"
)

// gpuPrimitives needs ICICLE: this build has none.
func gpuPrimitives(context.Context, string, Profile, primitiveInputs) ([]Primitive, error) {
	return nil, hwaccel.ErrNoGPUSupport
}
