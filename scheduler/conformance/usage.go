package conformance

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// Clock is a settable time for schedulers under test (Config.Now), so that
// what they record (proof-seconds, deadlines) is exact.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// run takes the next job, lets d pass, and reports o for it.
func run(t *testing.T, s *scheduler.Scheduler, c *Clock, d time.Duration, o scheduler.Outcome) *scheduler.Job {
	t.Helper()
	j := next(t, s)
	c.Add(d)
	o.Attempt = j.Attempts
	if err := s.Finish(ctxT(t), j.ID, o); err != nil {
		t.Fatal(err)
	}
	return j
}

// usageOf reads the tallies q selects, as "day tenant circuit backend
// proofs ms constraints bytes" lines.
func usageOf(t *testing.T, s *scheduler.Scheduler, q scheduler.UsageQuery) []scheduler.Usage {
	t.Helper()
	us, err := s.Usage(ctxT(t), q)
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// Usage is tallied where each outcome is recorded, by tenant, UTC day,
// circuit and backend, whichever scheduler (process) records it: proofs,
// constraints and stored bytes for successes, proof-seconds for every
// attempt that reported. Stale reports add nothing, and the tallies
// survive a restart. A tenant's query sees its own; All sees every one;
// Since leaves out earlier days.
func usageTallies(t *testing.T, b Backend) {
	ctx := ctxT(t)
	c := NewClock(time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC))
	var used []scheduler.Usage
	var mu sync.Mutex
	cfg := scheduler.Config{MaxAttempts: 3, Now: c.Now, Used: func(u scheduler.Usage) { mu.Lock(); used = append(used, u); mu.Unlock() }}
	s1, s2 := newScheduler(b, cfg), newScheduler(b, cfg)
	submit := func(tenant string, n int) *scheduler.Job {
		j, _, err := s1.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, n), Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	proof := []byte(`{"proof":"0123456789"}`)
	// Day one: bank-a proves once on the CPU, 2 s.
	submit("bank-a", 60)
	run(t, s1, c, 2*time.Second, scheduler.Outcome{Backend: "cpu", Result: proof})
	// Day two: bank-b fails once on cuda:0 (1.5 s), then succeeds there on
	// the other scheduler (3 s); a stale report of attempt 1 adds nothing.
	c.Add(2 * time.Hour)
	jb := submit("bank-b", 61)
	run(t, s2, c, 1500*time.Millisecond, scheduler.Outcome{Backend: "cuda:0", Err: errcode.Errorf(errcode.DeviceFailure, "device lost")})
	run(t, s1, c, 3*time.Second, scheduler.Outcome{Backend: "cuda:0", Result: proof})
	if err := s2.Finish(ctx, jb.ID, scheduler.Outcome{Attempt: 1, Backend: "cuda:0", Result: proof}); err != nil {
		t.Fatal(err)
	}
	// And bank-a fails for good (1 s): time, no proof.
	submit("bank-a", 62)
	run(t, s2, c, time.Second, scheduler.Outcome{Backend: "cpu", Err: errors.New("out of memory")})

	ic, err := circuits.Lookup(circuit)
	if err != nil {
		t.Fatal(err)
	}
	constraints := int64(ic.Constraints)
	bytes := int64(len(proof))
	want := []scheduler.Usage{
		{Day: "2026-11-01", Tenant: "bank-a", Circuit: circuit, Backend: "cpu", Proofs: 1, ProofMillis: 2000, Constraints: constraints, StoredBytes: bytes},
		{Day: "2026-11-02", Tenant: "bank-a", Circuit: circuit, Backend: "cpu", ProofMillis: 1000},
		{Day: "2026-11-02", Tenant: "bank-b", Circuit: circuit, Backend: "cuda:0", Proofs: 1, ProofMillis: 4500, Constraints: constraints, StoredBytes: bytes},
	}
	b2 := b.Restart(t)
	s3 := newScheduler(b2, cfg)
	check := func(name string, q scheduler.UsageQuery, want ...scheduler.Usage) {
		t.Helper()
		got := usageOf(t, s3, q)
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: tally %d is %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
	check("all, after a restart", scheduler.UsageQuery{All: true}, want...)
	check("bank-a's own", scheduler.UsageQuery{Tenant: "bank-a"}, want[0], want[1])
	check("bank-b's own", scheduler.UsageQuery{Tenant: "bank-b"}, want[2])
	check("since day two", scheduler.UsageQuery{All: true, Since: "2026-11-02"}, want[1], want[2])
	check("since day three", scheduler.UsageQuery{All: true, Since: "2026-11-03"})
	check("a tenant with none", scheduler.UsageQuery{Tenant: "bank-c"})
	if _, err := s3.Usage(ctx, scheduler.UsageQuery{Since: "November"}); errcode.Of(err) != errcode.BadRequest || !strings.Contains(err.Error(), "since") {
		t.Fatalf("a malformed since: %v", err)
	}
	// Each recorded outcome was told once to the scheduler that stored it:
	// four reports (the stale one is not among them).
	mu.Lock()
	defer mu.Unlock()
	var total scheduler.Usage
	for _, u := range used {
		total.Add(u)
	}
	if len(used) != 4 || total.Proofs != 2 || total.ProofMillis != 7500 {
		t.Fatalf("Used got %d tallies adding to %+v, want 4 adding to 2 proofs, 7500 ms", len(used), total)
	}
}

// A tenant over its daily proof-seconds is refused with UsageQuota naming
// the quota; the job that crossed it ran; another tenant, a resubmission
// of a finished job, and the next UTC day are not refused.
func dailyQuota(t *testing.T, b Backend) {
	ctx := ctxT(t)
	c := NewClock(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC))
	s := newScheduler(b, scheduler.Config{Now: c.Now})
	submit := func(tenant string, n int) (*scheduler.Job, error) {
		j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, n), Tenant: tenant, DailyProofSeconds: 5})
		return j, err
	}
	first, err := submit("bank-a", 70)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, c, 4*time.Second, scheduler.Outcome{Backend: "cpu", Result: []byte(`{}`)})
	if _, err := submit("bank-a", 71); err != nil { // 4 of 5 used: admitted, and it crosses the quota
		t.Fatalf("under its quota: %v", err)
	}
	run(t, s, c, 3*time.Second, scheduler.Outcome{Backend: "cpu", Result: []byte(`{}`)})
	_, err = submit("bank-a", 72)
	if errcode.Of(err) != errcode.UsageQuota || errcode.Of(err).Entry().Status != errcode.StatusResourceExhausted {
		t.Fatalf("over its quota: %v (%s)", err, errcode.Of(err))
	}
	if msg := err.Error(); !strings.Contains(msg, "tenant bank-a used 7.0 of its 5 proof-seconds today") {
		t.Fatalf("the refusal does not name the quota: %q", msg)
	}
	if again, err := submit("bank-a", 70); err != nil || again.ID != first.ID {
		t.Fatalf("a finished job's resubmission: %+v %v", again, err)
	}
	if _, err := submit("bank-b", 72); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	c.Add(14 * time.Hour) // 00:00 UTC
	if _, err := submit("bank-a", 73); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}
