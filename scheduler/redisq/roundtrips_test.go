package redisq_test

import (
	"context"
	"testing"
	"time"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

type nopAudit struct{}

func (nopAudit) Record(context.Context, scheduler.Event) error { return nil }

// A submission costs one round trip (one script) to Redis through the
// Admitter (it checks, stores and queues the job), two with an audit log
// (the log records a new job before it is stored, so a read comes
// first), and a duplicate one. Without the Admitter it is four: read,
// count, store, push.
func TestSubmitRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	q := redisq.NewQueue(c, redisq.QueueConfig{Logger: quiet})
	defer q.Shutdown()
	st := redisq.NewStore(c, redisq.StoreConfig{MaxQueued: 10000})
	a := redisq.NewAdmitter(st, q)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	quota := scheduler.Request{Tenant: "bank-a", TenantMaxQueued: 1000}
	for k, tc := range []struct {
		name      string
		cfg       scheduler.Config
		req       scheduler.Request
		want, dup int64
	}{
		{"one step", scheduler.Config{Admitter: a}, scheduler.Request{}, 1, 1},
		{"one step, tenant quota", scheduler.Config{Admitter: a}, quota, 1, 1},
		{"one step, audit log", scheduler.Config{Admitter: a, Audit: nopAudit{}}, quota, 2, 1},
		{"no admitter", scheduler.Config{}, scheduler.Request{}, 4, 1},
		{"no admitter, tenant quota", scheduler.Config{}, quota, 5, 1},
	} {
		s := scheduler.New(st, q, tc.cfg)
		base := 1000 * (k + 1)
		req := tc.req
		req.Circuit = "invoice-consistency/v1"
		req.Input = conformance.Input(t, base)
		if _, _, err := s.Submit(ctx, req); err != nil { // warm: scripts loaded
			t.Fatal(err)
		}
		n := redisq.Count(c)
		const N = 20
		for i := 1; i <= N; i++ {
			req.Input = conformance.Input(t, base+i)
			if _, created, err := s.Submit(ctx, req); err != nil || !created {
				t.Fatal(created, err)
			}
		}
		trips, cmds := n.RoundTrips(), n.Commands()
		t.Logf("%s: %.1f round trips, %.1f commands per submission", tc.name, float64(trips)/N, float64(cmds)/N)
		if trips != tc.want*N || (tc.cfg.Admitter != nil && cmds != trips) {
			t.Errorf("%s: %d round trips, %d commands for %d submissions; want %d each", tc.name, trips, cmds, N, tc.want)
		}
		n = redisq.Count(c)
		if _, created, err := s.Submit(ctx, req); err != nil || created {
			t.Fatal(created, err)
		}
		if got := n.RoundTrips(); got != tc.dup {
			t.Errorf("%s: a duplicate took %d round trips; want %d", tc.name, got, tc.dup)
		}
	}
}
