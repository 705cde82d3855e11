// Package hwaccel is the seam between proving and the hardware that does it.
// A Backend turns a constraint system, a proving key and a full witness into
// a Groth16 proof and names the device that made it; it does not verify the
// proof (the prover does, once, and tells the device the verdict). CPU
// proves with gnark; a GPU backend (ICICLE, behind the icicle build tag)
// plugs in here without changing its callers.
package hwaccel
