// Package worker runs jobs: a Pool of slots takes jobs from the scheduler,
// proves each admitted statement's witness through the prover (which loads
// each circuit's keys once and verifies every proof, once, before it
// returns it), turns panics into failed attempts, and reports. Errors keep
// their errcode: the scheduler decides from it whether another attempt may
// succeed. A running job's context ends when the pool's Shutdown runs out
// of time.
package worker
