// Package audit owns proofmill's audit trail: an append-only log of JSON
// lines, one per event in a job's life (submitted, started, and its end:
// succeeded, failed or cancelled), each holding the SHA-256 of the line
// before, and each synced to disk before the call that wrote it returns.
// It holds no inputs or proofs: only digests of the verifying key and of
// the public inputs. The scheduler emits the events, for every path a job
// can take; this package writes and checks them. One process writes a log:
// it is locked while open.
package audit
