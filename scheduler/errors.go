package scheduler

import "errors"

var (
	ErrNotFound     = errors.New("job not found")
	ErrQueueFull    = errors.New("queue full")
	ErrTenantQuota  = errors.New("tenant's queued-job quota reached")
	ErrNotQueued    = errors.New("job is not queued")
	ErrDraining     = errors.New("scheduler is draining")
	ErrInvalidKey   = errors.New("invalid idempotency key")
	ErrPastDeadline = errors.New("deadline already passed")
	ErrBadPriority  = errors.New("unknown priority")
	// ErrConflict: another writer changed the job first (Store.Update).
	ErrConflict = errors.New("job changed by another writer")
	// ErrUnavailable: a shared store or queue cannot be reached now; the
	// same call may succeed later.
	ErrUnavailable = errors.New("job store unavailable")
)
