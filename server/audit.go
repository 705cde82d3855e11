package server

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	Time               time.Time `json:"time"`
	Event              string    `json:"event"` // submitted, succeeded, failed, cancelled
	Job                string    `json:"job"`
	Tenant             string    `json:"tenant"`
	Circuit            string    `json:"circuit"`
	VerifyingKeySHA256 string    `json:"verifying_key_sha256,omitempty"`
	PublicInputsSHA256 string    `json:"public_inputs_sha256,omitempty"`
	Backend            string    `json:"backend,omitempty"`
	ErrorKind          string    `json:"error_kind,omitempty"`
	Attempts           int       `json:"attempts,omitempty"`
	// Prev is the SHA-256 of the previous line (without its newline): the
	// lines form a chain, so an edited or deleted line shows.
	Prev string `json:"prev"`
}

// Audit is an append-only, hash-chained log of JSON lines, synced to disk
// line by line. It holds no inputs or proofs, only their hashes.
type Audit struct {
	mu   sync.Mutex
	f    *os.File
	prev string
	now  func() time.Time
}

// OpenAudit opens the log at path for appending, checking the chain of
// what is there.
func OpenAudit(path string) (*Audit, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	prev, _, err := VerifyAuditLog(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	return &Audit{f: f, prev: prev, now: time.Now}, nil
}

// Close closes the file.
func (a *Audit) Close() error { return a.f.Close() }

// Submitted records a new job.
func (a *Audit) Submitted(j *scheduler.Job) error {
	return a.append(AuditRecord{Event: "submitted", Job: j.ID, Tenant: j.Tenant, Circuit: j.Circuit, VerifyingKeySHA256: j.VerifyingKey})
}

// Finished records a job's outcome; it is the scheduler's OnFinish.
func (a *Audit) Finished(j *scheduler.Job) error {
	r := AuditRecord{Event: string(j.State), Job: j.ID, Tenant: j.Tenant, Circuit: j.Circuit, VerifyingKeySHA256: j.VerifyingKey,
		Backend: j.Backend, ErrorKind: j.ErrorKind, Attempts: j.Attempts}
	if len(j.Result) > 0 {
		var f prover.ProofFile
		if err := json.Unmarshal(j.Result, &f); err != nil {
			return fmt.Errorf("audit: job %s: proof file: %w", j.ID, err)
		}
		r.VerifyingKeySHA256, r.PublicInputsSHA256 = f.VerifyingKeySHA256, receipt.PublicInputsHash(publicInputs(f.PublicInputs))
	}
	return a.append(r)
}

func (a *Audit) append(r AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.Time, r.Prev = a.now().UTC(), a.prev
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := a.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.prev = lineHash(line)
	return nil
}

func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// ErrAuditChain: a line of the audit log was changed, removed or inserted.
var ErrAuditChain = errors.New("audit log chain broken")

// VerifyAuditLog checks that every line names the hash of the one before,
// and returns the hash of the last line and the number of lines.
func VerifyAuditLog(r io.Reader) (last string, lines int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
		var rec AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return "", lines, fmt.Errorf("%w: line %d: %v", ErrAuditChain, lines, err)
		}
		if rec.Prev != last {
			return "", lines, fmt.Errorf("%w: line %d does not follow line %d", ErrAuditChain, lines, lines-1)
		}
		last = lineHash(sc.Bytes())
	}
	return last, lines, sc.Err()
}
