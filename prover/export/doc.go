// Package export converts gnark Groth16 proofs and verifying keys over BN254
// to and from the JSON files snarkjs reads and writes (proof.json,
// verification_key.json and public.json), and exports gnark's Solidity
// verifier.
//
// Field elements are decimal strings and points are written the way snarkjs
// writes them, in projective form with Z = 1:
//
//	G1: ["x", "y", "1"]
//	G2: [["x.c0", "x.c1"], ["y.c0", "y.c1"], ["1", "0"]]
//
// where c0 is the real part of an 𝔽p² element (gnark's A0) and c1 the
// imaginary part (A1). Unlike Ethereum precompile calldata, the JSON does not
// swap c0 and c1. The point at infinity is ["0", "1", "0"]; it is accepted
// only for the IC points of a verifying key, where an unconstrained public
// input legitimately produces it.
//
// Parsing is strict: coordinates must be decimal digits below the field
// modulus, points must be on the curve and in the prime-order subgroup, and
// public signals must be below the scalar field modulus r. Errors name the
// offending JSON field (for example "pi_b[1][0]") and wrap one of the Err*
// sentinels, so callers can test them with errors.Is.
//
// gnark's Pedersen commitment extension (circuits calling api.Commit) has no
// snarkjs equivalent; proofs and keys using it are rejected with
// ErrCommitments.
package export
