package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// A batch is a JSONL file of requests, one per line:
//
//	{"circuit": "invoice-consistency/v1", "input": {...}, "idempotency_key": "optional"}
//
// `batch submit` queues every line at batch priority straight into Redis
// and stores a record of which line became which job, under the batch ID
// (by default a hash of the file, so rerunning a file finds its batch and
// its finished proofs: nothing is proved twice). A bad line is recorded
// with its reason and the rest go on.

// batchRequest is one line of the input file.
type batchRequest struct {
	Circuit        string          `json:"circuit"`
	Input          json.RawMessage `json:"input"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// batchRecord is what Redis keeps about a submitted batch.
type batchRecord struct {
	ID        string      `json:"id"`
	Source    string      `json:"source"`
	Submitted time.Time   `json:"submitted"`
	Lines     []batchLine `json:"lines"`
}

type batchLine struct {
	Line  int    `json:"line"`
	Job   string `json:"job,omitempty"`
	Error string `json:"error,omitempty"` // rejected at submission
}

// batchResult is one line of the output file.
type batchResult struct {
	Line      int             `json:"line"`
	Job       string          `json:"job,omitempty"`
	Circuit   string          `json:"circuit,omitempty"`
	State     string          `json:"state"` // a job state, or "rejected"
	ErrorKind string          `json:"error_kind,omitempty"`
	Error     string          `json:"error,omitempty"`
	Proof     json.RawMessage `json:"proof,omitempty"`
}

const stateRejected = "rejected"

func runBatch(ctx context.Context, e *env, args []string) error {
	sub := map[string]func(context.Context, *env, []string) error{
		"submit": runBatchSubmit, "status": runBatchStatus, "collect": runBatchCollect, "run": runBatchRun,
	}
	if len(args) > 0 {
		if run, ok := sub[args[0]]; ok {
			return run(ctx, e, args[1:])
		}
	}
	return fmt.Errorf("%w: batch submit | status | collect | run", errUsage)
}

// batchFlags are the flags every batch command takes.
type batchFlags struct {
	redis, in, id, keys *string
	retention           *time.Duration
}

func newBatchFlags(e *env, name string) (*flag.FlagSet, *batchFlags) {
	fs, keys := flags(e, "batch "+name)
	f := &batchFlags{
		keys:      keys,
		redis:     fs.String("redis", os.Getenv("PROOFMILL_REDIS"), "Redis `addr`: host:port or URI ($PROOFMILL_REDIS)"),
		in:        fs.String("in", "", "the requests, one JSON object per line (`file.jsonl`)"),
		id:        fs.String("batch", "", "batch `id` (default: derived from the --in file)"),
		retention: fs.Duration("retention", 24*time.Hour, "how long the batch record is kept; keep it equal to the servers'"),
	}
	return fs, f
}

// open checks the flags and connects; it reads --in when given.
func (f *batchFlags) open(ctx context.Context, needFile bool) (*redisq.Conn, []byte, error) {
	if *f.redis == "" {
		return nil, nil, fmt.Errorf("%w: --redis is required", errUsage)
	}
	var data []byte
	if *f.in != "" {
		var err error
		if data, err = os.ReadFile(*f.in); err != nil {
			return nil, nil, err
		}
		if *f.id == "" {
			sum := sha256.Sum256(data)
			*f.id = hex.EncodeToString(sum[:8])
		}
	}
	switch {
	case needFile && data == nil:
		return nil, nil, fmt.Errorf("%w: --in is required", errUsage)
	case *f.id == "":
		return nil, nil, fmt.Errorf("%w: --batch or --in is required", errUsage)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := redisq.Dial(dctx, *f.redis)
	return conn, data, err
}

func runBatchSubmit(ctx context.Context, e *env, args []string) error {
	fs, f := newBatchFlags(e, "submit")
	if err := parse(fs, args); err != nil {
		return err
	}
	conn, data, err := f.open(ctx, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	rec, err := submitBatch(ctx, e, conn, f, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s\n", rec.ID)
	return nil
}

func submitBatch(ctx context.Context, e *env, conn *redisq.Conn, f *batchFlags, data []byte) (*batchRecord, error) {
	store := redisq.NewStore(conn, redisq.StoreConfig{Retention: *f.retention})
	queue := redisq.NewQueue(conn, redisq.QueueConfig{Logger: e.log})
	defer queue.Shutdown()
	keys := prover.KeyStore{Dir: *f.keys}
	if keys.Dir == "" {
		keys.Dir, _ = prover.DefaultKeyDir()
	}
	sched := scheduler.New(store, queue, scheduler.Config{Logger: e.log, Retention: *f.retention,
		VerifyingKey: func(_ context.Context, id string) (string, error) {
			// Pin jobs to the keys here when there are some; without, any
			// worker's keys will do and the proof names the key it used.
			if m, err := keys.Manifest(id); err == nil {
				return m.VerifyingKeyHash(), nil
			}
			return "", nil
		}})
	rec := &batchRecord{ID: *f.id, Source: filepath.Base(*f.in), Submitted: time.Now().UTC()}
	var queued, existing, rejected int
	for n, line := range splitLines(data) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		entry := batchLine{Line: n + 1}
		j, created, err := submitLine(ctx, sched, line)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			entry.Error = err.Error()
			rejected++
			e.log.Warn("batch: line rejected", "line", n+1, "err", err)
		case created:
			entry.Job = j.ID
			queued++
		default:
			entry.Job = j.ID
			existing++
		}
		rec.Lines = append(rec.Lines, entry)
	}
	blob, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := conn.SaveBatch(ctx, rec.ID, blob, *f.retention); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "batch %s: %d lines: %d queued, %d already known, %d rejected\n", rec.ID, len(rec.Lines), queued, existing, rejected)
	return rec, nil
}

// maxLine bounds one request line: a document plus its envelope.
const maxLine = input.MaxDocumentBytes + 64<<10

func submitLine(ctx context.Context, sched *scheduler.Scheduler, line []byte) (*scheduler.Job, bool, error) {
	if len(line) > maxLine {
		return nil, false, fmt.Errorf("%w: line is %d bytes, over %d", input.ErrTooLarge, len(line), maxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var req batchRequest
	if err := dec.Decode(&req); err != nil {
		return nil, false, fmt.Errorf("%w: %v", input.ErrMalformed, err)
	}
	if req.Circuit == "" || len(req.Input) == 0 {
		return nil, false, fmt.Errorf("%w: each line needs \"circuit\" and \"input\"", input.ErrMissingField)
	}
	return sched.Submit(ctx, scheduler.Request{Circuit: req.Circuit, Input: req.Input, Priority: scheduler.Batch, IdempotencyKey: req.IdempotencyKey})
}

func splitLines(data []byte) [][]byte {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func loadBatch(ctx context.Context, conn *redisq.Conn, id string) (*batchRecord, error) {
	data, err := conn.LoadBatch(ctx, id)
	if err != nil {
		return nil, err
	}
	rec := new(batchRecord)
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("batch %s: corrupt record: %w", id, err)
	}
	return rec, nil
}

// batchProgress counts a batch's lines by outcome.
type batchProgress struct {
	total, succeeded, failed, pending int
}

func (p batchProgress) finished() int { return p.succeeded + p.failed }

func progressOf(ctx context.Context, store *redisq.Store, rec *batchRecord) (batchProgress, error) {
	var ids []string
	p := batchProgress{total: len(rec.Lines)}
	for _, l := range rec.Lines {
		if l.Job == "" {
			p.failed++ // rejected
		} else {
			ids = append(ids, l.Job)
		}
	}
	states, err := store.States(ctx, ids)
	if err != nil {
		return p, err
	}
	for _, s := range states {
		switch s {
		case scheduler.Succeeded:
			p.succeeded++
		case scheduler.Failed, scheduler.Cancelled, "": // "": expired or lost
			p.failed++
		default:
			p.pending++
		}
	}
	return p, nil
}

func runBatchStatus(ctx context.Context, e *env, args []string) error {
	fs, f := newBatchFlags(e, "status")
	if err := parse(fs, args); err != nil {
		return err
	}
	conn, _, err := f.open(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	rec, err := loadBatch(ctx, conn, *f.id)
	if err != nil {
		return err
	}
	p, err := progressOf(ctx, redisq.NewStore(conn, redisq.StoreConfig{}), rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s (%s): %d lines, %d succeeded, %d failed, %d pending\n", rec.ID, rec.Source, p.total, p.succeeded, p.failed, p.pending)
	return nil
}

func runBatchCollect(ctx context.Context, e *env, args []string) error {
	fs, f := newBatchFlags(e, "collect")
	out := fs.String("out", "", "write results to `file.jsonl` (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	conn, _, err := f.open(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	rec, err := loadBatch(ctx, conn, *f.id)
	if err != nil {
		return err
	}
	return collectBatch(ctx, e, conn, rec, *out)
}

// collectBatch writes one result line per request line, in order, and
// fails if some line did not succeed (the file still has every line).
func collectBatch(ctx context.Context, e *env, conn *redisq.Conn, rec *batchRecord, out string) error {
	store := redisq.NewStore(conn, redisq.StoreConfig{})
	var succeeded, failed, pending int
	err := writeOutput(e, out, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		for _, l := range rec.Lines {
			r := batchResult{Line: l.Line, Job: l.Job}
			if l.Job == "" {
				r.State, r.Error = stateRejected, l.Error
			} else {
				j, err := store.Get(ctx, l.Job)
				switch {
				case errors.Is(err, scheduler.ErrNotFound):
					r.State, r.Error = string(scheduler.Failed), "the job is gone (expired after the retention period, or Redis lost it)"
				case err != nil:
					return err
				default:
					r.Circuit, r.State, r.ErrorKind, r.Error = j.Circuit, string(j.State), j.ErrorKind, j.Error
					if j.State == scheduler.Succeeded {
						r.Proof = j.Result
					}
				}
			}
			switch r.State {
			case string(scheduler.Succeeded):
				succeeded++
			case string(scheduler.Queued), string(scheduler.Running):
				pending++
			default:
				failed++
			}
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "batch %s: %d succeeded, %d failed, %d pending\n", rec.ID, succeeded, failed, pending)
	if failed+pending > 0 {
		return fmt.Errorf("%w: %d of %d lines did not succeed", errBatchIncomplete, failed+pending, len(rec.Lines))
	}
	return nil
}

var errBatchIncomplete = errors.New("batch incomplete")

func runBatchRun(ctx context.Context, e *env, args []string) error {
	fs, f := newBatchFlags(e, "run")
	out := fs.String("out", "", "write results to `file.jsonl` (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	conn, data, err := f.open(ctx, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	rec, err := submitBatch(ctx, e, conn, f, data)
	if err != nil {
		return err
	}
	if err := watchBatch(ctx, e, redisq.NewStore(conn, redisq.StoreConfig{}), rec); err != nil {
		return err
	}
	return collectBatch(ctx, e, conn, rec, *out)
}

// watchBatch shows progress until every line is finished: a bar on a
// terminal, a line every few seconds otherwise. Redis errors (a restart)
// are reported and waited out.
func watchBatch(ctx context.Context, e *env, store *redisq.Store, rec *batchRecord) error {
	bar := isTerminal(e.stderr)
	start := time.Now()
	var first *batchProgress
	var lastLine time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := progressOf(ctx, store, rec)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			e.log.Warn("batch: cannot read progress; retrying", "err", err)
		default:
			if first == nil {
				first = &p
			}
			line := progressLine(p, first.finished(), time.Since(start))
			if bar {
				fmt.Fprintf(e.stderr, "\r\033[K%s", line)
			} else if time.Since(lastLine) >= 5*time.Second || p.pending == 0 {
				fmt.Fprintln(e.stderr, line)
				lastLine = time.Now()
			}
			if p.pending == 0 {
				if bar {
					fmt.Fprintln(e.stderr)
				}
				return nil
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// progressLine renders progress: done, failed, rate and ETA, counting the
// rate only over lines finished while watching.
func progressLine(p batchProgress, finishedAtStart int, elapsed time.Duration) string {
	const width = 24
	filled := 0
	if p.total > 0 {
		filled = width * p.finished() / p.total
	}
	rate := float64(p.finished()-finishedAtStart) / max(elapsed.Seconds(), 1e-3)
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.pending) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d  done %d  failed %d  %.2f/s  ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.finished(), p.total, p.succeeded, p.failed, rate, eta)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
