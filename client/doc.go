// Package client is the Go client a ledger node uses to reach proofmill:
// submit proofs, watch or wait for them, prove in one call, verify proofs and
// fetch verifying keys. Calls that fail with UNAVAILABLE (a server starting,
// draining or briefly unreachable) are retried with backoff within the
// caller's context; submissions are idempotent, so a retry never makes a
// second job.
package client
