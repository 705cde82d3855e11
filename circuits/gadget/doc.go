// Package gadget holds the building blocks the circuits share: the Poseidon2
// hash over BN254, in-circuit and native (the same function on both sides),
// and range checks built from bit decompositions.
//
// Range checks use plain boolean decompositions, never api.Commit or
// std/rangecheck, so proofs stay standard Groth16 that any verifier accepts.
package gadget
