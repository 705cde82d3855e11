// Package server is proofmill's gRPC front: thin handlers that validate a
// request, call the scheduler or prover, and map errors to status codes in
// one table (errors.go); interceptors for recovery, logging and limits; and
// the Prometheus metrics the service exports.
package server
