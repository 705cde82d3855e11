package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/groupcommit"
)

// Record is one line of the log.
type Record struct {
	Time               time.Time `json:"time"`
	Event              string    `json:"event"` // submitted, started, succeeded, failed, cancelled
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

// ErrChain: a line of the log was changed, removed or inserted.
var ErrChain = errcode.New(errcode.AuditChain, "audit log chain broken")

// Log is an open audit log. It is safe for concurrent use: appends that
// arrive together are written in order and share one fsync.
type Log struct {
	f    *os.File
	prev string // the hash of the last whole line; the group's goroutine's
	size int64  // the file's length after the last whole line; likewise
	now  func() time.Time

	group *groupcommit.Group[Record]
}

// maxGroup bounds the lines one fsync covers.
const maxGroup = 256

// Open opens the log at path for appending, after checking the chain of
// what is there, and locks it against other processes.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: in use by another process (each process needs a log of its own): %w", path, err)
	}
	prev, _, err := Verify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{f: f, prev: prev, size: st.Size(), now: time.Now}
	l.group = groupcommit.Start(maxGroup, l.writeGroup)
	return l, nil
}

// Close writes the appends under way, then closes the file, releasing its
// lock. Closing again does nothing.
func (l *Log) Close() error {
	l.group.Stop()
	if err := l.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

// Append writes r, chained to the line before, and returns once it is
// synced to disk. Time and Prev are set here.
func (l *Log) Append(r Record) error {
	if err := l.group.Do(r); err != nil {
		if errors.Is(err, groupcommit.ErrClosed) {
			return fmt.Errorf("audit: log %w", err)
		}
		return err
	}
	return nil
}

// writeGroup writes and syncs the group's lines. On failure the file is
// cut back to where the group began: a line cut short (a full disk) would
// break the chain for every line after it.
func (l *Log) writeGroup(rs []Record) []error {
	err := l.writeLines(rs)
	errs := make([]error, len(rs))
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (l *Log) writeLines(rs []Record) error {
	var buf []byte
	prev := l.prev
	for _, r := range rs {
		r.Time, r.Prev = l.now().UTC(), prev
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		prev = lineHash(line)
		buf = append(append(buf, line...), '\n')
	}
	_, err := l.f.Write(buf)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		if terr := l.f.Truncate(l.size); terr != nil {
			return fmt.Errorf("audit: %w (and cutting off the partial lines: %v)", err, terr)
		}
		return fmt.Errorf("audit: %w", err)
	}
	l.size += int64(len(buf))
	l.prev = prev
	return nil
}

func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// Verify checks that every line names the hash of the one before, and
// returns the hash of the last line and the number of lines.
func Verify(r io.Reader) (last string, lines int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return "", lines, fmt.Errorf("%w: line %d: %v", ErrChain, lines, err)
		}
		if rec.Prev != last {
			return "", lines, fmt.Errorf("%w: line %d does not follow line %d", ErrChain, lines, lines-1)
		}
		last = lineHash(sc.Bytes())
	}
	return last, lines, sc.Err()
}

// VerifyFile is Verify of the log at path.
func VerifyFile(path string) (last string, lines int, err error) {
	if path == "" {
		return "", 0, errcode.Errorf(errcode.Usage, "audit: no log file given (--audit)")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return Verify(f)
}
