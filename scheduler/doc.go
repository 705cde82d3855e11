// Package scheduler owns proofmill's job model and the decisions about jobs:
// admission (the circuit exists and the inputs satisfy it, checked natively
// before anything is queued), idempotency, priorities, deadlines, bounded
// queueing, cancellation, retries and retention.
//
// It reads and writes state only through the Store and Queue interfaces it
// declares, so the same logic runs over the embedded store (package
// scheduler/embedded) and, later, Redis; and its tests run against a
// recording fake. Workers take jobs with Next and report with Finish.
package scheduler
