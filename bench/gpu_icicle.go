//go:build icicle

package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/fft"
	icicle_core "github.com/ingonyama-zk/icicle-gnark/v3/wrappers/golang/core"
	icicle_bn254 "github.com/ingonyama-zk/icicle-gnark/v3/wrappers/golang/curves/bn254"
	icicle_msm "github.com/ingonyama-zk/icicle-gnark/v3/wrappers/golang/curves/bn254/msm"
	icicle_ntt "github.com/ingonyama-zk/icicle-gnark/v3/wrappers/golang/curves/bn254/ntt"
	icicle_runtime "github.com/ingonyama-zk/icicle-gnark/v3/wrappers/golang/runtime"
)

// icicleDevice maps "cuda:N" to ICICLE's CUDA device N, and "icicle-cpu"
// to ICICLE's CPU backend (which lets a machine without a GPU run this
// code path).
func icicleDevice(id string) (icicle_runtime.Device, error) {
	if id == "icicle-cpu" {
		return icicle_runtime.CreateDevice("CPU", 0), nil
	}
	idx, ok := strings.CutPrefix(id, "cuda:")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return icicle_runtime.Device{}, fmt.Errorf("unknown ICICLE device %q (want cuda:N or icicle-cpu)", id)
	}
	return icicle_runtime.CreateDevice("CUDA", n), nil
}

func icicleErr(what string, e icicle_runtime.EIcicleError) error {
	if e == icicle_runtime.Success {
		return nil
	}
	return fmt.Errorf("%s: %s", what, e.AsString())
}

// gpuPrimitives measures MSM and NTT through ICICLE on one device, with
// inputs on the host (each call copies them in) and already on the device.
// The smallest size of each is checked against gnark-crypto first.
func gpuPrimitives(ctx context.Context, id string, p Profile, in primitiveInputs) ([]Primitive, error) {
	if e := icicle_runtime.LoadBackendFromEnvOrDefault(); e != icicle_runtime.Success && id != "icicle-cpu" {
		return nil, icicleErr("load ICICLE backend", e)
	}
	dev, err := icicleDevice(id)
	if err != nil {
		return nil, err
	}
	var out []Primitive
	done := make(chan struct{})
	icicle_runtime.RunOnDevice(&dev, func(...any) {
		defer close(done)
		out, err = onDevice(ctx, id, p, in)
	})
	<-done
	return out, err
}

// onDevice runs on the device's thread, as ICICLE requires.
func onDevice(ctx context.Context, id string, p Profile, in primitiveInputs) ([]Primitive, error) {
	var out []Primitive
	if p.MSMMaxLog > 0 {
		if err := checkMSM(in, 1<<p.MSMMinLog); err != nil {
			return nil, err
		}
		for logN := p.MSMMinLog; logN <= p.MSMMaxLog; logN++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			host, device, err := timeMSM(in, 1<<logN, p.PrimitiveRuns)
			if err != nil {
				return nil, fmt.Errorf("msm 2^%d: %w", logN, err)
			}
			out = append(out, Primitive{Op: "msm-g1", Device: id, Inputs: "host", LogN: logN, Time: host},
				Primitive{Op: "msm-g1", Device: id, Inputs: "device", LogN: logN, Time: device})
		}
	}
	if p.NTTMaxLog > 0 {
		// One domain for every size: ICICLE derives the smaller roots.
		gen := fft.NewDomain(uint64(1) << p.NTTMaxLog).Generator
		bits := gen.Bits()
		var root icicle_bn254.ScalarField
		root.FromLimbs(icicle_core.ConvertUint64ArrToUint32Arr(bits[:]))
		if err := icicleErr("init NTT domain", icicle_ntt.InitDomain(root, icicle_core.GetDefaultNTTInitDomainConfig())); err != nil {
			return nil, err
		}
		defer icicle_ntt.ReleaseDomain()
		if err := checkNTT(in, 1<<p.NTTMinLog); err != nil {
			return nil, err
		}
		for logN := p.NTTMinLog; logN <= p.NTTMaxLog; logN++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			host, device, err := timeNTT(in, 1<<logN, p.PrimitiveRuns)
			if err != nil {
				return nil, fmt.Errorf("ntt 2^%d: %w", logN, err)
			}
			out = append(out, Primitive{Op: "ntt", Device: id, Inputs: "host", LogN: logN, Time: host},
				Primitive{Op: "ntt", Device: id, Inputs: "device", LogN: logN, Time: device})
		}
	}
	return out, nil
}

// msmConfig reads gnark's Montgomery-form scalars and points as they are.
func msmConfig() icicle_core.MSMConfig {
	cfg := icicle_msm.GetDefaultMSMConfig()
	cfg.AreScalarsMontgomeryForm = true
	cfg.AreBasesMontgomeryForm = true
	return cfg
}

func icicleMSM(scalars, points icicle_core.HostOrDeviceSlice) (icicle_bn254.Projective, error) {
	cfg := msmConfig()
	res := make(icicle_core.HostSlice[icicle_bn254.Projective], 1)
	err := icicleErr("msm", icicle_msm.Msm(scalars, points, &cfg, res))
	return res[0], err
}

// checkMSM compares ICICLE's MSM of n inputs with gnark-crypto's.
func checkMSM(in primitiveInputs, n int) error {
	got, err := icicleMSM(icicle_core.HostSliceFromElements(in.scalars[:n]), icicle_core.HostSliceFromElements(in.points[:n]))
	if err != nil {
		return err
	}
	want, err := cpuMSM(in, n)
	if err != nil {
		return err
	}
	a := got.ToAffine()
	var x, y fp.Element
	x.SetBytes(reversed(a.X.ToBytesLittleEndian()))
	y.SetBytes(reversed(a.Y.ToBytesLittleEndian()))
	if g := (bn254.G1Affine{X: x, Y: y}); !g.Equal(&want) {
		return fmt.Errorf("msm 2^%d: ICICLE's result differs from gnark-crypto's", n)
	}
	return nil
}

func reversed(b []byte) []byte {
	b = slices.Clone(b)
	slices.Reverse(b)
	return b
}

func timeMSM(in primitiveInputs, n, runs int) (host, device Stat, err error) {
	scalars, points := icicle_core.HostSliceFromElements(in.scalars[:n]), icicle_core.HostSliceFromElements(in.points[:n])
	if host, err = timeRuns(runs, func() error { _, err := icicleMSM(scalars, points); return err }); err != nil {
		return
	}
	var dScalars, dPoints icicle_core.DeviceSlice
	scalars.CopyToDevice(&dScalars, true)
	defer dScalars.Free()
	points.CopyToDevice(&dPoints, true)
	defer dPoints.Free()
	device, err = timeRuns(runs, func() error { _, err := icicleMSM(dScalars, dPoints); return err })
	return
}

// The NTT is linear, so Montgomery-form inputs give Montgomery-form
// outputs: gnark's elements go in and come out as they are.
func icicleNTT(input, output icicle_core.HostOrDeviceSlice) error {
	cfg := icicle_ntt.GetDefaultNttConfig()
	return icicleErr("ntt", icicle_ntt.Ntt(input, icicle_core.KForward, &cfg, output))
}

// checkNTT compares ICICLE's NTT of n inputs with gnark-crypto's.
func checkNTT(in primitiveInputs, n int) error {
	got := make(fr.Vector, n)
	if err := icicleNTT(icicle_core.HostSliceFromElements(in.scalars[:n]), icicle_core.HostSliceFromElements([]fr.Element(got))); err != nil {
		return err
	}
	if !slices.Equal(got, cpuNTT(in, n)) {
		return fmt.Errorf("ntt 2^%d: ICICLE's result differs from gnark-crypto's", n)
	}
	return nil
}

func timeNTT(in primitiveInputs, n, runs int) (host, device Stat, err error) {
	input := icicle_core.HostSliceFromElements(in.scalars[:n])
	output := icicle_core.HostSliceFromElements(make([]fr.Element, n))
	if host, err = timeRuns(runs, func() error { return icicleNTT(input, output) }); err != nil {
		return
	}
	var d icicle_core.DeviceSlice
	input.CopyToDevice(&d, true)
	defer d.Free()
	device, err = timeRuns(runs, func() error { return icicleNTT(d, d) }) // in place
	return
}
