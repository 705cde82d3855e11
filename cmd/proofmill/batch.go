package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// batchCommands are the batch subcommands: whether each needs --in,
// whether it writes --out, and what it does once connected.
var batchCommands = map[string]struct {
	needFile, writes bool
	run              func(ctx context.Context, e *env, b *batchSession) error
}{
	"submit": {true, false, func(ctx context.Context, e *env, b *batchSession) error {
		rec, err := submitBatch(ctx, e, b)
		if err == nil {
			fmt.Fprintf(e.stdout, "batch %s\n", rec.ID)
		}
		return err
	}},
	"status": {false, false, func(ctx context.Context, e *env, b *batchSession) error {
		rec, err := b.record(ctx)
		if err != nil {
			return err
		}
		p, err := progressOf(ctx, b.store(), rec)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "batch %s (%s): %d lines, %d succeeded, %d failed, %d pending\n", rec.ID, rec.Source, p.total, p.succeeded, p.failed, p.pending)
		return nil
	}},
	"collect": {false, true, func(ctx context.Context, e *env, b *batchSession) error {
		rec, err := b.record(ctx)
		if err != nil {
			return err
		}
		return collectBatch(ctx, e, b, rec)
	}},
	"run": {true, true, func(ctx context.Context, e *env, b *batchSession) error {
		rec, err := submitBatch(ctx, e, b)
		if err != nil {
			return err
		}
		if err := watchBatch(ctx, e, b.store(), rec); err != nil {
			return err
		}
		return collectBatch(ctx, e, b, rec)
	}},
}

func runBatch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: batch submit | status | collect | run", errUsage)
	}
	cmd, ok := batchCommands[args[0]]
	if !ok {
		return fmt.Errorf("%w: batch submit | status | collect | run", errUsage)
	}
	fs, keys := flags(e, "batch "+args[0])
	redisAddr := fs.String("redis", os.Getenv("PROOFMILL_REDIS"), "Redis `addr`: host:port or URI ($PROOFMILL_REDIS)")
	in := fs.String("in", "", "the requests, one JSON object per line (`file.jsonl`)")
	b := &batchSession{keys: keys}
	fs.StringVar(&b.id, "batch", "", "batch `id` (default: derived from the --in file)")
	fs.DurationVar(&b.retention, "retention", 24*time.Hour, "how long the batch record is kept; keep it equal to the servers'")
	if cmd.writes {
		fs.StringVar(&b.out, "out", "", "write results to `file.jsonl` (default stdout)")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *redisAddr == "" {
		return fmt.Errorf("%w: --redis is required", errUsage)
	}
	if *in != "" {
		var err error
		if b.data, err = os.ReadFile(*in); err != nil {
			return err
		}
		b.source = filepath.Base(*in)
		if b.id == "" {
			sum := sha256.Sum256(b.data)
			b.id = hex.EncodeToString(sum[:8])
		}
	}
	switch {
	case cmd.needFile && *in == "":
		return fmt.Errorf("%w: --in is required", errUsage)
	case b.id == "":
		return fmt.Errorf("%w: --batch or --in is required", errUsage)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var err error
	if b.conn, err = redisq.Dial(dctx, *redisAddr); err != nil {
		return err
	}
	defer b.conn.Close()
	return cmd.run(ctx, e, b)
}

// batchSession is one batch command's flags and connection.
type batchSession struct {
	conn      *redisq.Conn
	keys      *string
	id        string
	source    string // the --in file's name
	data      []byte // its contents
	out       string
	retention time.Duration
}

func (b *batchSession) store() *redisq.Store {
	return redisq.NewStore(b.conn, redisq.StoreConfig{Retention: b.retention})
}

func (b *batchSession) record(ctx context.Context) (*batchRecord, error) {
	data, err := b.conn.LoadBatch(ctx, b.id)
	if err != nil {
		return nil, err
	}
	rec := new(batchRecord)
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("batch %s: corrupt record: %w", b.id, err)
	}
	return rec, nil
}

func submitBatch(ctx context.Context, e *env, b *batchSession) (*batchRecord, error) {
	queue := redisq.NewQueue(b.conn, redisq.QueueConfig{Logger: e.log})
	defer queue.Shutdown()
	keys := prover.KeyStore{Dir: *b.keys}
	if keys.Dir == "" {
		keys.Dir, _ = prover.DefaultKeyDir()
	}
	sched := scheduler.New(b.store(), queue, scheduler.Config{Logger: e.log, Retention: b.retention,
		VerifyingKey: func(_ context.Context, id string) (string, error) {
			// Pin jobs to the keys here when there are some; without, any
			// worker's keys will do and the proof names the key it used.
			if m, err := keys.Manifest(id); err == nil {
				return m.VerifyingKeyHash(), nil
			}
			return "", nil
		}})
	rec := &batchRecord{ID: b.id, Source: b.source, Submitted: time.Now().UTC()}
	var queued, existing, rejected int
	for n, line := range splitLines(b.data) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		entry := batchLine{Line: n + 1}
		j, created, err := submitLine(ctx, sched, line)
		for waited := false; isTransient(err) && ctx.Err() == nil; waited = true {
			// The queue is full, or Redis is away: wait, then go on.
			if !waited {
				e.log.Warn("batch: waiting to submit", "line", n+1, "err", err)
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			j, created, err = submitLine(ctx, sched, line)
		}
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
	if err := b.conn.SaveBatch(ctx, rec.ID, blob, b.retention); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "batch %s: %d lines: %d queued, %d already known, %d rejected\n", rec.ID, len(rec.Lines), queued, existing, rejected)
	return rec, nil
}

func isTransient(err error) bool {
	return errors.Is(err, scheduler.ErrQueueFull) || errors.Is(err, scheduler.ErrUnavailable)
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

// collectBatch writes one result line per request line, in order, and
// fails if some line did not succeed (the file still has every line).
func collectBatch(ctx context.Context, e *env, b *batchSession, rec *batchRecord) error {
	store := b.store()
	var succeeded, failed, pending int
	err := writeOutput(e, b.out, func(w io.Writer) error {
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
