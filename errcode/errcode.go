package errcode

import (
	"context"
	"errors"
	"fmt"
)

// Code names a kind of error. Its string is stable: it is a job's
// error_kind, the reason in a gRPC status's ErrorInfo, and a line of the
// audit log.
type Code string

// The codes, grouped as the exit statuses group them.
const (
	Internal         Code = "internal"          // a bug, I/O, or anything unnamed
	AttemptsExceeded Code = "attempts_exceeded" // a job's retryable failures, too many times
	DeviceFailure    Code = "device_failure"    // a GPU failed, not the statement
	NoGPUSupport     Code = "no_gpu_support"    // built without the icicle tag
	Conflict         Code = "conflict"          // another writer changed a job first
	CorruptRecord    Code = "corrupt_record"    // a stored job record is damaged
	Ceremony         Code = "ceremony"          // an MPC ceremony step out of order or failing its checks
	BatchIncomplete  Code = "batch_incomplete"  // some lines of a batch did not succeed
	ReportIncomplete Code = "report_incomplete" // a benchmark report is incomplete or implausible

	Usage Code = "usage" // the command line was misused

	BadRequest   Code = "bad_request"    // a request field other than the input: circuit, priority, key, deadline
	InvalidInput Code = "invalid_input"  // the input document: malformed, unknown or missing field, bad value, too large
	TooLarge     Code = "too_large"      // a message over the server's size limit
	BadProofFile Code = "bad_proof_file" // a malformed or inconsistent proof file
	KeyReused    Code = "key_reused"     // an idempotency key already used for a different request
	// SealedInvalid: a sealed input does not open under the input key it
	// names: sealed to another key, changed, or for another tenant or circuit.
	SealedInvalid   Code = "sealed_invalid"
	InputKeyUnknown Code = "input_key_unknown" // a sealed input names no input key the service publishes

	Unsatisfied    Code = "unsatisfied"     // the statement does not hold
	ProofRejected  Code = "proof_rejected"  // a proof fails verification
	ReceiptInvalid Code = "receipt_invalid" // a receipt is missing or does not verify
	AuditChain     Code = "audit_chain"     // the audit log's hash chain is broken

	UnknownCircuit Code = "unknown_circuit"

	NoKeys          Code = "no_keys"           // the key store has none for the circuit
	CorruptKeys     Code = "corrupt_keys"      // a key store entry fails its checksums
	KeysExist       Code = "keys_exist"        // keys already there, and not to be replaced
	DevelopmentKeys Code = "development_keys"  // keys not from a ceremony, where production needs one
	KeyMismatch     Code = "key_mismatch"      // a worker's keys are not the job's
	InputKeyMissing Code = "input_key_missing" // a worker lacks the input key a sealed job names
	// DataKey: a job's input, encrypted at rest, cannot be decrypted here:
	// its tenant's data key is missing, or wrapped by another master key.
	DataKey Code = "data_key"

	QueueFull   Code = "queue_full"
	TenantQuota Code = "tenant_quota"
	RateLimited Code = "rate_limited"
	// UsageQuota: the tenant used its daily proof-seconds (the tenant
	// table's daily_proof_seconds) today, UTC.
	UsageQuota       Code = "usage_quota"
	Draining         Code = "draining"          // the server is shutting down
	Unavailable      Code = "unavailable"       // a shared store or the server cannot be reached now
	DeadlineExceeded Code = "deadline_exceeded" // a call's or a job's deadline passed
	// DeadlineUnmeetable: at submission, the job is predicted to start
	// after its deadline (the work ahead of it, the slots, recent proofs).
	DeadlineUnmeetable Code = "deadline_unmeetable"

	JobNotFound   Code = "job_not_found"
	BatchNotFound Code = "batch_not_found"

	NotQueued Code = "not_queued" // a finished job cannot be cancelled
	Cancelled Code = "cancelled"  // the job was cancelled

	Unauthenticated Code = "unauthenticated"
	// PermissionDenied: the caller is known but may not see what it asked
	// for (another tenant's usage).
	PermissionDenied Code = "permission_denied"

	Interrupted Code = "interrupted" // the caller gave up (context.Canceled, Ctrl-C)
)

// Error is an error with a code: Op says what failed (it may be empty),
// Err why.
type Error struct {
	Op   string
	Code Code
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Op == "" && e.Err == nil:
		return string(e.Code)
	case e.Op == "":
		return e.Err.Error()
	case e.Err == nil:
		return e.Op + ": " + string(e.Code)
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// E returns err with a code; nil stays nil.
func E(op string, code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Code: code, Err: err}
}

// Errorf returns a new error with a code; %w wraps as in fmt.Errorf.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// New returns a sentinel error with a code: errors.Is finds the value,
// Of its code.
func New(code Code, msg string) error {
	return &Error{Code: code, Err: errors.New(msg)}
}

// Of returns err's code: that of the outermost *Error it wraps, else
// Interrupted or DeadlineExceeded for the context errors, else Internal.
// A nil error has no code ("").
func Of(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled):
		return Interrupted
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Internal
}

// Retryable reports whether another attempt at the same work may succeed.
func Retryable(err error) bool { return Of(err).Entry().Retry != Never }
