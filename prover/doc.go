// Package prover compiles circuits, keeps their keys, proves and verifies.
//
// Constraint systems are compiled once per process and cached. Keys live in
// a KeyStore on disk, one folder per circuit version, with a manifest of
// SHA-256 sums that is checked before anything is decoded; the proving key
// uses gnark's fast dump format. A Prover loads each circuit's keys once,
// proves through an hwaccel.Backend, and verifies every proof before it
// returns it.
//
// Keys made by Setup are development keys: whoever ran groth16.Setup can
// forge proofs. Production keys come from an MPC ceremony and are imported.
package prover
