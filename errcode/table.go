package errcode

// Domain is the domain of the google.rpc.ErrorInfo a server attaches to
// every error status; the ErrorInfo's reason is the error's Code.
const Domain = "proofmill.dev"

// Status is a gRPC status code, numbered as in the gRPC specification
// (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) and in
// google.golang.org/grpc/codes.
type Status uint32

const (
	StatusOK                 Status = 0
	StatusCanceled           Status = 1
	StatusUnknown            Status = 2
	StatusInvalidArgument    Status = 3
	StatusDeadlineExceeded   Status = 4
	StatusNotFound           Status = 5
	StatusAlreadyExists      Status = 6
	StatusPermissionDenied   Status = 7
	StatusResourceExhausted  Status = 8
	StatusFailedPrecondition Status = 9
	StatusAborted            Status = 10
	StatusOutOfRange         Status = 11
	StatusUnimplemented      Status = 12
	StatusInternal           Status = 13
	StatusUnavailable        Status = 14
	StatusDataLoss           Status = 15
	StatusUnauthenticated    Status = 16
)

// Retry says whether work that failed with a code may succeed if done
// again.
type Retry uint8

const (
	// Never: the request itself is wrong; doing it again gives the same.
	Never Retry = iota
	// Attempt: another attempt at a job (on this worker or another) may
	// succeed; workers retry up to the job's MaxAttempts.
	Attempt
	// Later: the service is busy or away; the same call may succeed in a
	// while (clients back off and resend).
	Later
)

// Entry is one row of the table.
type Entry struct {
	Code   Code
	Status Status // what a server answers
	Exit   int    // the command line's exit status
	Retry  Retry
}

// Table is every code, once. Where several codes share a gRPC status, the
// first listed is what a status without a proofmill reason means
// (ForStatus): an answer from gRPC itself, or from an older server.
var Table = []Entry{
	{Internal, StatusInternal, 1, Attempt},
	{Conflict, StatusAborted, 1, Attempt},
	{AttemptsExceeded, StatusAborted, 1, Never},
	{DeviceFailure, StatusInternal, 1, Attempt},
	{CorruptRecord, StatusDataLoss, 1, Never}, // resubmitting the input makes it afresh
	{BadRequest, StatusInvalidArgument, 3, Never},
	{InvalidInput, StatusInvalidArgument, 3, Never},
	{TooLarge, StatusResourceExhausted, 3, Never},
	{BadProofFile, StatusInvalidArgument, 3, Never},
	{KeyReused, StatusAlreadyExists, 3, Never},
	{SealedInvalid, StatusInvalidArgument, 3, Never},
	{InputKeyUnknown, StatusInvalidArgument, 3, Never},
	{Usage, StatusInvalidArgument, 2, Never},
	{Unsatisfied, StatusFailedPrecondition, 4, Never},
	{ProofRejected, StatusFailedPrecondition, 4, Attempt},
	{ReceiptInvalid, StatusFailedPrecondition, 4, Never},
	{AuditChain, StatusDataLoss, 4, Never}, // after CorruptRecord: a bare DATA_LOSS is a damaged record
	{UnknownCircuit, StatusNotFound, 5, Never},
	{NoKeys, StatusFailedPrecondition, 6, Attempt},
	{CorruptKeys, StatusFailedPrecondition, 6, Attempt},
	{KeysExist, StatusAlreadyExists, 6, Never},
	{DevelopmentKeys, StatusFailedPrecondition, 6, Never},
	{KeyMismatch, StatusFailedPrecondition, 6, Attempt},
	{InputKeyMissing, StatusFailedPrecondition, 6, Attempt},
	{DataKey, StatusFailedPrecondition, 6, Attempt},
	{Unavailable, StatusUnavailable, 7, Later},
	{QueueFull, StatusResourceExhausted, 7, Later},
	{TenantQuota, StatusResourceExhausted, 7, Later},
	{RateLimited, StatusResourceExhausted, 7, Later},
	{UsageQuota, StatusResourceExhausted, 7, Never}, // not before 00:00 UTC: no client should back off and resend
	{Draining, StatusUnavailable, 7, Later},
	{DeadlineExceeded, StatusDeadlineExceeded, 7, Never},
	{DeadlineUnmeetable, StatusFailedPrecondition, 7, Never},
	{JobNotFound, StatusNotFound, 8, Never},
	{BatchNotFound, StatusNotFound, 8, Never},
	{NotQueued, StatusFailedPrecondition, 9, Never},
	{Cancelled, StatusFailedPrecondition, 9, Never},
	{Unauthenticated, StatusUnauthenticated, 10, Never},
	{PermissionDenied, StatusPermissionDenied, 10, Never},
	{Interrupted, StatusCanceled, 130, Attempt}, // an attempt cut short (a shutdown) runs again
	// Codes that no server sends.
	{Ceremony, StatusFailedPrecondition, 1, Never},
	{NoGPUSupport, StatusUnimplemented, 1, Never},
	{BatchIncomplete, StatusUnknown, 1, Never},
	{ReportIncomplete, StatusUnknown, 1, Never},
}

var byCode = func() map[Code]Entry {
	m := make(map[Code]Entry, len(Table))
	for _, e := range Table {
		if _, dup := m[e.Code]; dup {
			panic("errcode: " + string(e.Code) + " listed twice")
		}
		m[e.Code] = e
	}
	return m
}()

// Entry is the code's row; an unknown code has Internal's.
func (c Code) Entry() Entry {
	if e, ok := byCode[c]; ok {
		return e
	}
	return byCode[Internal]
}

// Known reports whether c is in the table.
func (c Code) Known() bool {
	_, ok := byCode[c]
	return ok
}

// ForStatus is the code a gRPC status means when it names no code: the
// first code in Table with that status, else Internal. Unknown and
// Unimplemented (a method an older server lacks) are Internal.
func ForStatus(s Status) Code {
	if s == StatusUnknown || s == StatusUnimplemented {
		return Internal
	}
	for _, e := range Table {
		if e.Status == s {
			return e.Code
		}
	}
	return Internal
}

// Exits says what each exit status of the command line means; the README
// shows this table.
var Exits = []struct {
	Status  int
	Meaning string
}{
	{0, "success"},
	{1, "other failure: I/O, an internal error, a job that ran out of attempts or whose record is damaged, an incomplete batch, a ceremony step out of order"},
	{2, "usage: an unknown command or flag, a missing or conflicting flag"},
	{3, "bad input: malformed JSON, unknown or missing field, invalid or out-of-range value, oversize document, a malformed request field or proof file, a sealed input that does not open or names no published input key"},
	{4, "the statement does not hold (names the rule), or a proof, receipt or audit log does not verify"},
	{5, "unknown circuit"},
	{6, "keys: none in the key store (run `proofmill keys setup`), corrupt, already there, not from a ceremony under `--production`, or not the job's; a worker without a sealed job's input key or its tenant's data key"},
	{7, "busy: the queue or a tenant's quota is full, the server is draining or unreachable, or a deadline passed or cannot be met"},
	{8, "unknown job or batch"},
	{9, "the job's state: a finished job cannot be cancelled, or the job was cancelled"},
	{10, "unauthenticated: no credentials, or an unknown token or certificate; or permission denied (another tenant's usage)"},
	{130, "interrupted (Ctrl-C)"},
}
