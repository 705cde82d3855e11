package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
)

// Request is one line of a batch file.
type Request struct {
	Circuit        string          `json:"circuit"`
	Input          json.RawMessage `json:"input"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// Record is a submitted batch: which line became which job.
type Record struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"` // the file's name
	Server    string    `json:"server"` // where it was submitted
	Submitted time.Time `json:"submitted"`
	Lines     []Line    `json:"lines"`
}

// Line is one request line's fate at submission.
type Line struct {
	Line      int    `json:"line"`
	Job       string `json:"job,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"` // rejected: its errcode
	Error     string `json:"error,omitempty"`
}

// Counts says what a submission did with the lines.
type Counts struct {
	Queued, Known, Rejected int
}

// Service is what a batch needs of the proving service; *client.Client is
// one.
type Service interface {
	Submit(ctx context.Context, req *pb.SubmitProofRequest) (*pb.Job, bool, error)
	Get(ctx context.Context, id string) (*pb.Job, error)
	Devices(ctx context.Context) ([]*pb.Device, error)
	// VerifyReceipt checks a succeeded job's signed receipt: a batch
	// delivers no proof the service did not vouch for.
	VerifyReceipt(ctx context.Context, j *pb.Job) error
}

// ErrIncomplete: some lines did not succeed.
var ErrIncomplete = errcode.New(errcode.BatchIncomplete, "batch incomplete")

// ID is a file's default batch id: the first 8 bytes of its SHA-256, in hex.
func ID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// maxLine bounds one request line: a document plus its envelope.
const maxLine = input.MaxDocumentBytes + 64<<10

// Submit submits every line of data at batch priority, in order, and
// returns the record. A line refused for itself is recorded as rejected; a
// busy service is waited out (logged once per wait); any other error, or
// ctx ending, stops the batch.
func Submit(ctx context.Context, svc Service, rec *Record, data []byte, log *slog.Logger) (Counts, error) {
	var n Counts
	rec.Lines = rec.Lines[:0]
	for i, line := range splitLines(data) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		entry := Line{Line: i + 1}
		j, created, err := submitLine(ctx, svc, line)
		for waited := false; err != nil && errcode.Of(err).Entry().Retry == errcode.Later && ctx.Err() == nil; waited = true {
			if !waited {
				log.Warn("batch: waiting to submit", "line", entry.Line, "kind", errcode.Of(err), "err", err)
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			j, created, err = submitLine(ctx, svc, line)
		}
		switch {
		case ctx.Err() != nil:
			return n, ctx.Err()
		case err != nil && !refusedForItself(err):
			return n, fmt.Errorf("batch %s: line %d: %w", rec.ID, entry.Line, err)
		case err != nil:
			entry.ErrorKind, entry.Error = string(errcode.Of(err)), client.Message(err)
			n.Rejected++
			log.Warn("batch: line rejected", "line", entry.Line, "kind", entry.ErrorKind, "err", entry.Error)
		case created:
			entry.Job = j.GetId()
			n.Queued++
		default:
			entry.Job = j.GetId()
			n.Known++
		}
		rec.Lines = append(rec.Lines, entry)
	}
	return n, nil
}

// refusedForItself reports whether the error is about the line, not the
// service: the rest of the batch may still go.
func refusedForItself(err error) bool {
	switch errcode.Of(err) {
	case errcode.BadRequest, errcode.InvalidInput, errcode.TooLarge, errcode.Unsatisfied, errcode.UnknownCircuit:
		return true
	}
	return false
}

func submitLine(ctx context.Context, svc Service, line []byte) (*pb.Job, bool, error) {
	if len(line) > maxLine {
		return nil, false, fmt.Errorf("%w: line is %d bytes, over %d", input.ErrTooLarge, len(line), maxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, false, fmt.Errorf("%w: %v", input.ErrMalformed, err)
	}
	if req.Circuit == "" || len(req.Input) == 0 {
		return nil, false, fmt.Errorf("%w: each line needs \"circuit\" and \"input\"", input.ErrMissingField)
	}
	return svc.Submit(ctx, &pb.SubmitProofRequest{Circuit: req.Circuit, InputJson: string(req.Input),
		Priority: pb.Priority_PRIORITY_BATCH, IdempotencyKey: req.IdempotencyKey})
}

func splitLines(data []byte) [][]byte {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Records keeps batch records in a folder, one JSON file per batch.
type Records struct{ Dir string }

// OpenRecords is the records in dir; "" means proofmill/batches under the
// user's cache folder.
func OpenRecords(dir string) (Records, error) {
	if dir != "" {
		return Records{Dir: dir}, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return Records{}, fmt.Errorf("batch: records folder: %w", err)
	}
	return Records{Dir: filepath.Join(base, "proofmill", "batches")}, nil
}

// ErrNoBatch: no record under that id.
var ErrNoBatch = errcode.New(errcode.BatchNotFound, "no such batch")

// Save writes a record, replacing one of the same id.
func (r Records) Save(rec *Record) error {
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.Dir, rec.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("batch: save %s: %w", rec.ID, err)
	}
	return os.Rename(tmp.Name(), r.path(rec.ID))
}

// Load reads a record.
func (r Records) Load(id string) (*Record, error) {
	data, err := os.ReadFile(r.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("batch %s: %w in %s (submit it first, or give its --records folder)", id, ErrNoBatch, r.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	rec := new(Record)
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("batch %s: corrupt record: %w", id, err)
	}
	return rec, nil
}

func (r Records) path(id string) string { return filepath.Join(r.Dir, id+".json") }

// Open finds the batch a command names, in the records in dir (see
// OpenRecords). To submit, it reads the file at in and makes a record
// named id, by default the file's hash. Otherwise it loads the record
// saved under id, or the file's hash when only in is given.
func Open(dir, id, in, server string, submit bool) (Records, *Record, []byte, error) {
	r, err := OpenRecords(dir)
	var data []byte
	switch {
	case err != nil:
		return r, nil, nil, err
	case submit && in == "":
		return r, nil, nil, errcode.Errorf(errcode.Usage, "--in is required")
	case in != "":
		if data, err = os.ReadFile(in); err != nil {
			return r, nil, nil, err
		}
		if id == "" {
			id = ID(data)
		}
	case id == "":
		return r, nil, nil, errcode.Errorf(errcode.Usage, "--batch or --in is required")
	}
	if submit {
		return r, &Record{ID: id, Source: filepath.Base(in), Server: server, Submitted: time.Now().UTC()}, data, nil
	}
	rec, err := r.Load(id)
	return r, rec, nil, err
}

func (n Counts) String() string {
	return fmt.Sprintf("%d queued, %d already known, %d rejected", n.Queued, n.Known, n.Rejected)
}
