// Package client is the Go client a ledger node uses to reach proofmill:
// submit proofs, watch or wait for them, prove in one call, verify proofs and
// fetch verifying keys. Calls that fail with UNAVAILABLE (a server starting,
// draining or briefly unreachable) are retried with backoff within the
// caller's context; submissions are idempotent, so a retry never makes a
// second job.
//
// Seal seals an input end to end to the input key the server publishes
// (checked against the service key, as receipts are), so that only a
// worker holding that key reads it. A sealed submission's job is keyed by
// its ciphertext, and sealing again makes other bytes: a retry resends the
// same SealedInput (the client's own retries do).
package client
