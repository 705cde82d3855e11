package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
)

// Usage is a tally of the proving done for one tenant on one UTC day, of
// one circuit on one backend. It is added to where a job's outcome is
// recorded (Finish), in the same write, so each attempt counts once
// whichever process proved it.
type Usage struct {
	Tenant  string // "" without tenants
	Day     string // the UTC day the outcomes were recorded, as DayLayout
	Circuit string
	Backend string // the device that proved, or tried to: "cpu", "cuda:0", …
	// Proofs counts the jobs that succeeded: proved, and the proof
	// verified. Failed, retried and cancelled jobs count none.
	Proofs int64
	// ProofMillis is the worker time attempts took, from the attempt's start
	// (the job marked running) to its outcome recorded: key load, solve,
	// prove and verify, on success and on failure alike (a failed attempt
	// held the device too). An attempt whose process died reports nothing
	// and counts nothing.
	ProofMillis int64
	// Constraints is the constraint count of each proved job's circuit,
	// summed over Proofs.
	Constraints int64
	// StoredBytes is the size of the result kept for each proved job: its
	// proof file (Job.Result, the proof and its public inputs as JSON),
	// counted once when it succeeds and not taken back when retention
	// deletes it.
	StoredBytes int64
}

// DayLayout is how a Usage's day is written.
const DayLayout = "2006-01-02"

// UsageRetention is how long usage tallies are kept: 400 days, a year
// and its billing disputes.
const UsageRetention = 400 * 24 * time.Hour

// Day is the UTC day t falls on.
func Day(t time.Time) string { return t.UTC().Format(DayLayout) }

// Add adds o's figures to u's.
func (u *Usage) Add(o Usage) {
	u.Proofs += o.Proofs
	u.ProofMillis += o.ProofMillis
	u.Constraints += o.Constraints
	u.StoredBytes += o.StoredBytes
}

// Zero reports whether the tally adds nothing.
func (u Usage) Zero() bool {
	return u.Proofs == 0 && u.ProofMillis == 0 && u.Constraints == 0 && u.StoredBytes == 0
}

// UsageQuery selects tallies.
type UsageQuery struct {
	Since string // the first UTC day (DayLayout); "": every day kept
	// Tenant is whose tallies; with All, every tenant's.
	Tenant string
	All    bool
}

// UsageStore is a Store that keeps usage tallies beside the jobs.
type UsageStore interface {
	// UpdateCounting is Update, adding u to its tally (by u's tenant,
	// day, circuit and backend) in the same atomic write.
	UpdateCounting(ctx context.Context, job *Job, u Usage) error
	// Usage lists the tallies q selects, by day, tenant, circuit and
	// backend. Days older than UsageRetention may be gone.
	Usage(ctx context.Context, q UsageQuery) ([]Usage, error)
}

// ErrNoUsage: the job store keeps no usage tallies.
var ErrNoUsage = errcode.New(errcode.Internal, "this job store keeps no usage")

// Usage lists the tallies q selects.
func (s *Scheduler) Usage(ctx context.Context, q UsageQuery) ([]Usage, error) {
	if q.Since != "" {
		if _, err := time.Parse(DayLayout, q.Since); err != nil {
			return nil, errcode.Errorf(errcode.BadRequest, "scheduler: usage: since %q: want a day as 2026-11-01", q.Since)
		}
	}
	us, ok := s.store.(UsageStore)
	if !ok {
		return nil, ErrNoUsage
	}
	out, err := us.Usage(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("scheduler: usage: %w", err)
	}
	SortUsage(out)
	return out, nil
}

// SortUsage orders tallies by day, tenant, circuit and backend.
func SortUsage(us []Usage) {
	sort.Slice(us, func(i, k int) bool {
		a, b := us[i], us[k]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.Circuit != b.Circuit {
			return a.Circuit < b.Circuit
		}
		return a.Backend < b.Backend
	})
}

// attemptUsage is what the attempt of j that just reported adds: its
// time, and on success the proof, its constraints and its stored bytes.
func (s *Scheduler) attemptUsage(j *Job, backend string, succeeded bool, now time.Time) *Usage {
	u := &Usage{Tenant: j.Tenant, Day: Day(now), Circuit: j.Circuit, Backend: backend}
	if !j.Started.IsZero() {
		u.ProofMillis = max(0, now.Sub(j.Started).Milliseconds())
	}
	if succeeded {
		u.Proofs, u.StoredBytes = 1, int64(len(j.Result))
		if c, err := circuits.Lookup(j.Circuit); err == nil {
			u.Constraints = int64(c.Constraints)
		}
	}
	return u
}

// checkQuota refuses a submission of a tenant that used its daily
// proof-seconds today (UTC), unless it names a job stored already that
// will not run again (the answer is that job). The job that crosses the
// quota runs; the next is refused. Jobs admitted together while the
// tenant is under it all run: proof-seconds count as attempts end.
func (s *Scheduler) checkQuota(ctx context.Context, job *Job, dailySeconds float64) error {
	if dailySeconds <= 0 {
		return nil
	}
	if existing, err := s.store.Get(ctx, job.ID); err == nil && sameRequest(existing, job) && !retriable(existing) {
		return nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("scheduler: submit: %w", err)
	}
	today := Day(s.cfg.Now())
	us, err := s.Usage(ctx, UsageQuery{Since: today, Tenant: job.Tenant})
	if err != nil {
		return fmt.Errorf("scheduler: submit: daily quota: %w", err)
	}
	var used int64
	for _, u := range us {
		if u.Day == today {
			used += u.ProofMillis
		}
	}
	if float64(used) >= dailySeconds*1000 {
		return errcode.Errorf(errcode.UsageQuota, "tenant %s used %.1f of its %g proof-seconds today (daily_proof_seconds, UTC day %s); submissions resume at 00:00 UTC",
			job.Tenant, float64(used)/1000, dailySeconds, today)
	}
	return nil
}
