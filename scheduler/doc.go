// Package scheduler owns proofmill's job model and the decisions about jobs:
// admission (the circuit exists and the inputs satisfy it, checked natively
// before anything is queued, once: the job keeps the statement's witness),
// idempotency, priorities, deadlines, bounded queueing, cancellation,
// retries (by each error's errcode) and retention, and the events of each
// job's life, which it hands to an Auditor whichever path the job took.
//
// It reads and writes state only through the Store and Queue interfaces it
// declares, so the same logic runs over the embedded journal (package
// scheduler/embedded) and over Redis shared by many processes (package
// scheduler/redisq); package scheduler/conformance holds both to the same
// behaviour. Transitions are versioned writes (Store.Update fails with
// ErrConflict if another process wrote first), so schedulers in different
// processes never lose each other's changes. Workers take jobs with Next
// and report with Finish. It imports no gnark package: the job key comes
// from circuits.
package scheduler
