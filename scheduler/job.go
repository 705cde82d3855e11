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

// Priorities lists every priority, most urgent first.
var Priorities = [numPriorities]Priority{Interactive, Batch}

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

// States lists every state, in the order of a job's life.
var States = []State{Queued, Running, Succeeded, Failed, Cancelled}

// Stage is what a running job is doing now: progress for its watchers,
// not part of its state. It is "" unless the job is running.
type Stage string

const (
	StageWaitingForKeys Stage = "waiting_for_keys"
	// StageMakingKeys: a development setup (groth16.Setup) is making the
	// circuit's keys, once per circuit; it takes seconds to minutes.
	StageMakingKeys Stage = "making_development_keys"
	StageSolving    Stage = "solving"
	StageProving    Stage = "proving"
	StageVerifying  Stage = "verifying"
)

// Stages lists every stage, in the order of a job's run.
var Stages = []Stage{StageWaitingForKeys, StageMakingKeys, StageSolving, StageProving, StageVerifying}

// Terminal reports whether the job will not change again.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Cancelled }

// PublicInput is one public input of a proved statement, by name, as a
// decimal string.
type PublicInput struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Job is one proof request and everything that happened to it.
type Job struct {
	ID      string `json:"id"`
	Tenant  string `json:"tenant,omitempty"` // who submitted it; "" without tenants
	Circuit string `json:"circuit"`
	// The job's input, while it has one: a job holds at most one of these,
	// and none once it ended (see DropInput). Retention keeps results only.
	//
	// Witness is the admitted statement's full witness (circuits.Statement)
	// in the clear: in memory, and stored only by a scheduler without
	// Config.Inputs.
	Witness []byte `json:"witness,omitempty"`
	// EncryptedWitness is the witness as stored where Config.Inputs
	// encrypts inputs at rest.
	EncryptedWitness *Ciphertext `json:"encrypted_witness,omitempty"`
	// Sealed is an input the client sealed to an input key: only a worker
	// holding that key opens it, and admits it then.
	Sealed *SealedInput `json:"sealed_input,omitempty"`
	// LegacyInput is the JSON input of a job stored before jobs kept their
	// witness: read, and admitted again by the worker; never written.
	LegacyInput    []byte    `json:"input,omitempty"`
	Priority       Priority  `json:"priority"`
	Deadline       time.Time `json:"deadline,omitzero"` // zero: none
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	// Statement is the hex SHA-256 of the circuit and the admitted witness:
	// what an idempotency key is bound to. Empty on jobs stored before it.
	Statement string `json:"statement,omitempty"`
	// VerifyingKey is the SHA-256 of the verifying key the proof must check
	// against (empty: any) and, once the job succeeded, the one it did.
	VerifyingKey string `json:"verifying_key,omitempty"`

	State State `json:"state"`
	// Stage is what the job's current attempt is doing, while it runs.
	Stage    Stage `json:"stage,omitempty"`
	Attempts int   `json:"attempts"` // times it started
	// Interruptions counts the times the process running the job died
	// before it reported: crashes around the job, not attempts it used.
	Interruptions int       `json:"interruptions,omitempty"`
	Error         string    `json:"error,omitempty"`      // why it failed or was cancelled
	ErrorKind     string    `json:"error_kind,omitempty"` // an errcode.Code
	Submitted     time.Time `json:"submitted"`
	Started       time.Time `json:"started,omitzero"`
	Finished      time.Time `json:"finished,omitzero"`
	Backend       string    `json:"backend,omitempty"` // the device that proved it: "cpu", "cuda:0", …
	Result        []byte    `json:"result,omitempty"`  // the proof file (JSON), when succeeded
	// PublicInputs are the proved statement's public inputs, when
	// succeeded: reads need not parse the proof file.
	PublicInputs []PublicInput `json:"public_inputs,omitempty"`
	// Receipt is the signature the process that verified the proof made
	// over it, when it succeeded. Reads check it; they never make one.
	Receipt *Receipt `json:"receipt,omitempty"`
	Version uint64   `json:"version"` // bumped on every change

	// Queued is when the job last went in line: handed to the store at
	// admission, or put back after a failed attempt. A trace's queue-wait
	// span starts here.
	Queued time.Time `json:"queued,omitzero"`
	// Trace is the W3C trace context (traceparent, tracestate) of the
	// request that made the job, so that the process that proves it, this
	// one or another on Redis, continues the request's trace. Nil when the
	// request was not traced. It names spans only, never inputs.
	Trace map[string]string `json:"trace,omitempty"`
}

// Receipt is a stored signature over a succeeded job (see api/receipt for
// the bytes signed: the job's id, tenant, circuit, verifying key, public
// inputs, proof and backend, with the signing time and version below).
type Receipt struct {
	KeyID     string `json:"key_id"`
	Version   string `json:"version"`   // proofmill's version in the signer
	SignedAt  string `json:"signed_at"` // RFC 3339 UTC, as signed
	Signature []byte `json:"signature"`
}

// Ciphertext is a job's witness encrypted at rest (package vault makes
// them): under a key of the job's own, which a version of its tenant's data
// key wraps. The job's id and tenant are bound to both.
type Ciphertext struct {
	KeyVersion int    `json:"key_version"` // the tenant's data-key version that wraps JobKey
	JobKey     []byte `json:"job_key"`     // nonce ‖ AES-256-GCM of the job's key
	Data       []byte `json:"data"`        // nonce ‖ AES-256-GCM of the witness, under the job's key
}

// SealedInput is a client's input sealed to an input key (HPKE; see
// package api/sealed for the exact bytes).
type SealedInput struct {
	KeyID string `json:"key_id"`
	Data  []byte `json:"data"` // the HPKE encapsulated key ‖ ciphertext
}

// DropInput forgets the job's input, in every form it has.
func (j *Job) DropInput() {
	j.Witness, j.EncryptedWitness, j.Sealed, j.LegacyInput = nil, nil, nil, nil
}

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

// Event is a change in a job's life, as the audit log records it.
type Event struct {
	// Kind is EventSubmitted, EventStarted, or the terminal state the job
	// reached: "succeeded", "failed" or "cancelled".
	Kind string
	Job  *Job // a copy, as it was stored (for EventSubmitted: about to be)
}

// Event kinds besides the terminal states.
const (
	EventSubmitted = "submitted"
	EventStarted   = "started"
)
