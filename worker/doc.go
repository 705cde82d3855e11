// Package worker runs jobs: a Pool of slots takes jobs from the scheduler,
// proves each through the prover (which loads each circuit's keys once and
// verifies every proof before it returns it), turns panics into failed
// attempts, classifies failures as permanent or retryable, and reports.
package worker
