package scheduler

import (
	"fmt"
	"time"
)

// Priority orders jobs. Interactive jobs go first; batch jobs still get a
// share of the workers while interactive jobs wait (see NextPriority).
type Priority uint8

const (
	Interactive Priority = iota
	Batch
	numPriorities
)

func (p Priority) String() string {
	switch p {
	case Interactive:
		return "interactive"
	case Batch:
		return "batch"
	}
	return fmt.Sprintf("priority(%d)", p)
}

// State is where a job is in its life.
type State string

const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Terminal reports whether the job will not change again.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Job is one proof request and everything that happened to it.
type Job struct {
	ID             string    `json:"id"`
	Tenant         string    `json:"tenant,omitempty"` // who submitted it; "" without tenants
	Circuit        string    `json:"circuit"`
	Input          []byte    `json:"input"`
	Priority       Priority  `json:"priority"`
	Deadline       time.Time `json:"deadline,omitzero"` // zero: none
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	VerifyingKey   string    `json:"verifying_key,omitempty"` // SHA-256 the proof must check against; empty: any

	State     State     `json:"state"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`      // why it failed or was cancelled
	ErrorKind string    `json:"error_kind,omitempty"` // a stable tag, see Kind*
	Submitted time.Time `json:"submitted"`
	Started   time.Time `json:"started,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	Backend   string    `json:"backend,omitempty"` // which backend/device proved it
	Result    []byte    `json:"result,omitempty"`  // the proof file (JSON), when succeeded
	Version   uint64    `json:"version"`           // bumped on every change
}

// Error kinds recorded on failed jobs.
const (
	KindUnsatisfied      = "unsatisfied"       // the circuit rejected the statement
	KindDeadlineExceeded = "deadline_exceeded" // the deadline passed before it could start
	KindAttemptsExceeded = "attempts_exceeded" // retryable failures, too many times
	KindCancelled        = "cancelled"
)

// Class is what a queue orders jobs by: whose they are, and how urgent.
type Class struct {
	Tenant   string
	Priority Priority
}

// Class is the job's class.
func (j *Job) Class() Class { return Class{Tenant: j.Tenant, Priority: j.Priority} }

func (j *Job) clone() *Job {
	c := *j
	return &c
}
