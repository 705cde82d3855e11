// Package server is proofmill's gRPC front: thin handlers that validate a
// request, call the scheduler or the prover, and map errors to statuses
// through errcode's one table (errors.go); the interceptors that
// authenticate callers as tenants (auth.go), recover from panics, log, and
// bound messages. Tenants, the audit log and metrics have packages of
// their own; node wires them in.
package server
