package bench

import (
	"context"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/fft"
)

// primitiveInputs are shared by every device: distinct points and random
// scalars, generated once at the largest size and sliced.
type primitiveInputs struct {
	points  []bn254.G1Affine
	scalars fr.Vector // MSM scalars, and the NTT's input
}

func newPrimitiveInputs(msmN, nttN int) primitiveInputs {
	scalars := make(fr.Vector, max(msmN, nttN))
	parallel(len(scalars), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			scalars[i].MustSetRandom()
		}
	})
	return primitiveInputs{points: g1Points(msmN), scalars: scalars}
}

// g1Points returns (i+1)·G for i < n: one addition per point.
func g1Points(n int) []bn254.G1Affine {
	g, _, gAff, _ := bn254.Generators()
	jac := make([]bn254.G1Jac, n)
	parallel(n, func(lo, hi int) {
		var p bn254.G1Jac
		p.ScalarMultiplication(&g, big.NewInt(int64(lo+1)))
		for i := lo; i < hi; i++ {
			jac[i] = p
			p.AddMixed(&gAff)
		}
	})
	return bn254.BatchJacobianToAffineG1(jac)
}

// parallel splits [0, n) among the cores.
func parallel(n int, fn func(lo, hi int)) {
	parts := runtime.NumCPU()
	size := (n + parts - 1) / parts
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, min(lo+size, n))
		}()
	}
	wg.Wait()
}

// timeRuns times runs calls of fn, after one untimed warm-up call.
func timeRuns(runs int, fn func() error) (Stat, error) {
	if err := fn(); err != nil {
		return Stat{}, err
	}
	ds := make([]time.Duration, 0, runs)
	for range runs {
		t := time.Now()
		if err := fn(); err != nil {
			return Stat{}, err
		}
		ds = append(ds, time.Since(t))
	}
	return summarize(ds), nil
}

// primitives measures MSM and NTT on the CPU, then on each GPU.
func (h *harness) primitives(ctx context.Context) error {
	p := h.profile
	msmN, nttN := 0, 0
	if p.MSMMaxLog > 0 {
		msmN = 1 << p.MSMMaxLog
	}
	if p.NTTMaxLog > 0 {
		nttN = 1 << p.NTTMaxLog
	}
	h.logf("primitives: generating %d points and %d scalars", msmN, max(msmN, nttN))
	in := newPrimitiveInputs(msmN, nttN)
	for logN := p.MSMMinLog; msmN > 0 && logN <= p.MSMMaxLog; logN++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := 1 << logN
		var r bn254.G1Jac
		st, err := timeRuns(p.PrimitiveRuns, func() error {
			_, err := r.MultiExp(in.points[:n], in.scalars[:n], ecc.MultiExpConfig{})
			return err
		})
		if err != nil {
			return fmt.Errorf("bench: msm 2^%d: %w", logN, err)
		}
		h.report.Primitives = append(h.report.Primitives, Primitive{Op: "msm-g1", Device: "cpu", Inputs: "host", LogN: logN, Time: st})
	}
	for logN := p.NTTMinLog; nttN > 0 && logN <= p.NTTMaxLog; logN++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := 1 << logN
		domain := fft.NewDomain(uint64(n))
		v := make(fr.Vector, n)
		st, err := timeRuns(p.PrimitiveRuns, func() error {
			copy(v, in.scalars[:n]) // about 1% of an NTT's time
			domain.FFT(v, fft.DIF)
			return nil
		})
		if err != nil {
			return fmt.Errorf("bench: ntt 2^%d: %w", logN, err)
		}
		h.report.Primitives = append(h.report.Primitives, Primitive{Op: "ntt", Device: "cpu", Inputs: "host", LogN: logN, Time: st})
	}
	for _, dev := range h.gpuPrimitiveDevices() {
		h.logf("primitives on %s", dev)
		got, err := gpuPrimitives(ctx, dev, p, in)
		if err != nil {
			h.report.Failures = append(h.report.Failures, fmt.Sprintf("primitives on %s: %v", dev, err))
			continue
		}
		h.report.Primitives = append(h.report.Primitives, got...)
	}
	return nil
}

// cpuMSM and cpuNTT are the reference results GPU runs are checked with.
func cpuMSM(in primitiveInputs, n int) (bn254.G1Affine, error) {
	var r bn254.G1Affine
	_, err := r.MultiExp(in.points[:n], in.scalars[:n], ecc.MultiExpConfig{})
	return r, err
}

// cpuNTT returns the evaluations of in.scalars[:n] in natural order.
func cpuNTT(in primitiveInputs, n int) fr.Vector {
	v := make(fr.Vector, n)
	copy(v, in.scalars[:n])
	fft.NewDomain(uint64(n)).FFT(v, fft.DIF)
	fft.BitReverse(v)
	return v
}
