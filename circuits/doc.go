// Package circuits is the registry of the statements proofmill proves. Each
// circuit lives in its own package (invoice, abspool) with its gnark Define,
// the native helpers that compute the same hashes, and its JSON input; the
// registry names each one by a versioned id such as "invoice-consistency/v1"
// or "abs-pool-64/v1".
package circuits
