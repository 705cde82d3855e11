package scheduler

import "github.com/proofmill/proofmill/errcode"

// The scheduler's errors, each with its code.
var (
	ErrNotFound    = errcode.New(errcode.JobNotFound, "job not found")
	ErrQueueFull   = errcode.New(errcode.QueueFull, "queue full")
	ErrTenantQuota = errcode.New(errcode.TenantQuota, "tenant's queued-job quota reached")
	ErrNotQueued   = errcode.New(errcode.NotQueued, "job already finished")
	ErrDraining    = errcode.New(errcode.Draining, "scheduler is draining")
	// ErrRecovering: the server is starting, putting back in line the jobs
	// a previous process left; submissions are admitted once it is done.
	ErrRecovering   = errcode.New(errcode.Unavailable, "server is starting: recovering unfinished jobs")
	ErrInvalidKey   = errcode.New(errcode.BadRequest, "invalid idempotency key")
	ErrPastDeadline = errcode.New(errcode.BadRequest, "deadline already passed")
	ErrBadPriority  = errcode.New(errcode.BadRequest, "unknown priority")
	// ErrSealedRequest: a sealed input the server can tell is malformed.
	ErrSealedRequest = errcode.New(errcode.BadRequest, "malformed sealed input")
	// ErrKeyReused: the idempotency key names a job made for another
	// circuit or statement.
	ErrKeyReused = errcode.New(errcode.KeyReused, "idempotency key already used for a different request")
	// ErrConflict: another writer changed the job first (Store.Update).
	ErrConflict = errcode.New(errcode.Conflict, "job changed by another writer")
	// ErrUnavailable: a shared store or queue cannot be reached now; the
	// same call may succeed later.
	ErrUnavailable = errcode.New(errcode.Unavailable, "job store unavailable")
)
