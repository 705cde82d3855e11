package batch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
)

// Result is one line of the output file.
type Result struct {
	Line      int             `json:"line"`
	Job       string          `json:"job,omitempty"`
	Circuit   string          `json:"circuit,omitempty"`
	State     string          `json:"state"` // succeeded, failed, cancelled, queued, running, or rejected
	ErrorKind string          `json:"error_kind,omitempty"`
	Error     string          `json:"error,omitempty"`
	Proof     json.RawMessage `json:"proof,omitempty"`
}

// StateRejected is the state of a line refused at submission.
const StateRejected = "rejected"

// Progress counts a batch's lines by outcome.
type Progress struct {
	Total, Succeeded, Failed, Pending int
}

// Finished is how many lines are done, one way or the other.
func (p Progress) Finished() int { return p.Succeeded + p.Failed }

// Tracker follows a batch's jobs on the service. It reads each unfinished
// job at each poll and keeps finished ones, so collecting after watching
// reads nothing again. A succeeded job's receipt is checked when it is
// first read; a job whose receipt does not verify counts as failed.
type Tracker struct {
	svc  Service
	rec  *Record
	mu   sync.Mutex
	jobs map[string]*pb.Job // finished, or as last read
	gone map[string]bool    // not found: expired, or lost
	bad  map[string]error   // succeeded, but its receipt does not verify
}

// NewTracker follows rec's jobs on svc.
func NewTracker(svc Service, rec *Record) *Tracker {
	return &Tracker{svc: svc, rec: rec, jobs: map[string]*pb.Job{}, gone: map[string]bool{}, bad: map[string]error{}}
}

// pollers is how many jobs a poll reads at once.
const pollers = 8

// Poll reads every job not yet finished and counts the lines.
func (t *Tracker) Poll(ctx context.Context) (Progress, error) {
	var todo []string
	t.mu.Lock()
	for _, l := range t.rec.Lines {
		if l.Job != "" && !t.finished(l.Job) {
			todo = append(todo, l.Job)
		}
	}
	t.mu.Unlock()
	ids := make(chan string)
	errs := make(chan error, pollers)
	var wg sync.WaitGroup
	for range min(pollers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				j, err := t.svc.Get(ctx, id)
				var receiptErr error
				if err == nil && j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED {
					receiptErr = t.svc.VerifyReceipt(ctx, j)
				}
				t.mu.Lock()
				if receiptErr != nil {
					t.bad[id] = receiptErr
				}
				switch {
				case errcode.Of(err) == errcode.JobNotFound:
					t.gone[id] = true
				case err != nil:
					t.mu.Unlock()
					errs <- err
					return
				default:
					t.jobs[id] = j
				}
				t.mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for _, id := range todo {
		select {
		case ids <- id:
		case err = <-errs:
			break feed
		}
	}
	close(ids)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return t.Progress(), fmt.Errorf("batch %s: progress: %w", t.rec.ID, err)
	}
	return t.Progress(), nil
}

// finished reports whether a job needs no more reads; call with mu held.
func (t *Tracker) finished(id string) bool {
	j := t.jobs[id]
	return t.gone[id] || j != nil && client.Terminal(j.GetState())
}

// Progress counts the lines as last read.
func (t *Tracker) Progress() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := Progress{Total: len(t.rec.Lines)}
	for _, l := range t.rec.Lines {
		switch j := t.jobs[l.Job]; {
		case l.Job == "" || t.gone[l.Job] || t.bad[l.Job] != nil:
			p.Failed++ // rejected, gone, or not vouched for
		case j == nil || !client.Terminal(j.GetState()):
			p.Pending++
		case j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED:
			p.Succeeded++
		default:
			p.Failed++
		}
	}
	return p
}

// Watch polls until every line is finished or ctx ends, showing progress
// on w: a bar redrawn in place on a terminal, else a line every 5 s. The
// service's errors (a restart) are logged and waited out. When no line
// has finished for 5 s at the start, or for 30 s later on, it asks the
// service what is proving, and says so when nothing is.
func (t *Tracker) Watch(ctx context.Context, w io.Writer, terminal bool, log *slog.Logger) error {
	const firstCheck, stallAfter = 5 * time.Second, 30 * time.Second
	start := time.Now()
	first := -1
	var lastLine, lastDone, checked time.Time
	lastFinished := -1
	for {
		began := time.Now()
		p, err := t.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			log.Warn("batch: cannot read progress; retrying", "err", err)
		default:
			if first < 0 {
				first = p.Finished()
			}
			if p.Finished() != lastFinished {
				lastFinished, lastDone = p.Finished(), time.Now()
			}
			line := progressLine(p, first, time.Since(start))
			if terminal {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else if time.Since(lastLine) >= 5*time.Second || p.Pending == 0 {
				fmt.Fprintln(w, line)
				lastLine = time.Now()
			}
			if p.Pending == 0 {
				if terminal {
					fmt.Fprintln(w)
				}
				return nil
			}
			quiet := time.Since(lastDone)
			if checked.IsZero() && quiet >= firstCheck || !checked.IsZero() && quiet >= stallAfter && time.Since(checked) >= stallAfter {
				checked = time.Now()
				t.checkProving(ctx, log, quiet)
			}
		}
		wait := max(500*time.Millisecond, time.Since(began)) // a large batch polls less often
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkProving warns when the service lists no device that proves: no
// workers of its own and no worker process on its queue.
func (t *Tracker) checkProving(ctx context.Context, log *slog.Logger, idle time.Duration) {
	ds, err := t.svc.Devices(ctx)
	if err != nil {
		log.Warn("batch: cannot list the service's devices", "err", err)
		return
	}
	slots := 0
	for _, d := range ds {
		slots += int(d.GetSlots())
	}
	if slots == 0 {
		log.Warn("batch: nothing is proving: the server has no workers, and no worker process takes jobs from its queue (start `proofmill worker`)",
			"server", t.rec.Server, "idle", idle.Round(time.Second))
	} else {
		log.Info("batch: no line finished for a while; the service is proving", "idle", idle.Round(time.Second), "slots", slots)
	}
}

// progressLine renders progress: done, failed, rate and ETA, counting the
// rate only over lines finished while watching.
func progressLine(p Progress, finishedAtStart int, elapsed time.Duration) string {
	const width = 24
	filled := 0
	if p.Total > 0 {
		filled = width * p.Finished() / p.Total
	}
	rate := float64(p.Finished()-finishedAtStart) / max(elapsed.Seconds(), 1e-3)
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.Pending) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d  done %d  failed %d  %.2f/s  ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.Finished(), p.Total, p.Succeeded, p.Failed, rate, eta)
}

// Collect writes one result per request line, in order, reading the jobs
// it does not have yet, and fails with ErrIncomplete if some line did not
// succeed (the output still has every line).
func (t *Tracker) Collect(ctx context.Context, w io.Writer) (Progress, error) {
	if _, err := t.Poll(ctx); err != nil {
		return Progress{}, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	t.mu.Lock()
	for _, l := range t.rec.Lines {
		r := Result{Line: l.Line, Job: l.Job}
		j := t.jobs[l.Job]
		switch {
		case l.Job == "":
			r.State, r.ErrorKind, r.Error = StateRejected, l.ErrorKind, l.Error
		case t.gone[l.Job] || j == nil:
			r.State, r.ErrorKind, r.Error = "failed", string(errcode.JobNotFound), "the job is gone (expired after the retention period, or lost)"
		case t.bad[l.Job] != nil:
			r.State, r.ErrorKind, r.Error = "failed", string(errcode.Of(t.bad[l.Job])), t.bad[l.Job].Error()
		default:
			r.Circuit, r.State, r.ErrorKind, r.Error = j.GetCircuit(), stateName(j.GetState()), j.GetErrorKind(), j.GetError()
			if j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED {
				r.Proof = j.GetProofJson()
			}
		}
		if err := enc.Encode(r); err != nil {
			t.mu.Unlock()
			return Progress{}, err
		}
	}
	t.mu.Unlock()
	if err := bw.Flush(); err != nil {
		return Progress{}, err
	}
	p := t.Progress()
	if p.Failed+p.Pending > 0 {
		return p, fmt.Errorf("%w: %d of %d lines did not succeed", ErrIncomplete, p.Failed+p.Pending, p.Total)
	}
	return p, nil
}

// stateName is a job state as the output names it: "succeeded", "queued", ….
func stateName(s pb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

func (p Progress) String() string {
	return fmt.Sprintf("%d lines, %d succeeded, %d failed, %d pending", p.Total, p.Succeeded, p.Failed, p.Pending)
}
