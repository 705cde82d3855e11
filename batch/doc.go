// Package batch owns JSONL batches: a file of proof requests, one per line,
// submitted through the service's own admission (the gRPC API, so tenant
// identity, quotas, the audit log and verifying-key pinning apply as to any
// SubmitProof), followed while the jobs run, and collected as one result
// per line, in order.
//
// A line the service refuses for itself (malformed, an unknown circuit, a
// false statement) is recorded with its reason and the rest go on; a busy
// service (queue or quota full, draining, unreachable) is waited out; any
// other refusal (no credentials) stops the batch. The record of which line
// became which job is kept in a folder (Records), named by the batch id: by
// default a hash of the file, so rerunning a file finds its batch, and
// since each line's job id is the service's (its idempotency key, or a
// hash of circuit and inputs) nothing is proved twice.
package batch
