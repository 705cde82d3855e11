// Package ledger verifies proofmill's proof files where the service is not:
// in Fabric chaincode, or any Go ledger that records what was proved.
//
// A ledger pins each circuit's verifying key by its SHA-256
// (LoadVerifyingKey; the digest is the one proofmill prints and serves, and
// that each proof file names), verifies proof files against it (Key.Verify,
// or Keys.Verify for several circuits), and records the proofs' nullifiers
// once (Accept over a NullifierSet the ledger implements), so the same
// statement is never accepted twice. Key.VerifyBatch checks many proofs of
// one key with one pairing check, several times faster than one by one.
//
// The package imports no part of the service (key store, ceremony, GPU
// code, gRPC, Redis): only the circuit registry, the proof-file parser and
// gnark.
//
// Errors carry errcode codes: BadProofFile for a malformed file,
// KeyMismatch for a key or proof that is not the one expected,
// ProofRejected for a proof that does not verify; ErrNullifierUsed for a
// statement already recorded.
package ledger
