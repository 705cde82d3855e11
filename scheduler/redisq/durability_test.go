package redisq_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

func logTo(b *proctest.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// A Redis without persistence, or one that evicts keys when full, is
// refused with what to set, unless the operator says it is volatile; one
// whose CONFIG is disabled is judged from INFO; a loose appendfsync only
// warns.
func TestDurabilityChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		refused string // "" accepted
		warns   string
	}{
		{name: "aof always, noeviction (the tests' Redis)"},
		{name: "aof everysec", args: []string{"--appendfsync", "everysec"}},
		{name: "no persistence", args: []string{"--appendonly", "no"}, refused: `appendonly is "no"`},
		{name: "evicting", args: []string{"--maxmemory-policy", "allkeys-lru"}, refused: `maxmemory-policy is "allkeys-lru"`},
		{name: "volatile-ttl evicts too", args: []string{"--maxmemory-policy", "volatile-ttl"}, refused: "maxmemory-policy"},
		{name: "appendfsync no", args: []string{"--appendfsync", "no"}, warns: "appendfsync is not always or everysec"},
		{name: "CONFIG renamed, aof on", args: []string{"--rename-command", "CONFIG", ""}, warns: "refuses CONFIG GET"},
		{name: "CONFIG renamed, no persistence", args: []string{"--rename-command", "CONFIG", "", "--appendonly", "no"}, refused: `appendonly is "no"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartWith(t, tc.args...)
			c := dial(t, srv.Addr)
			var logs proctest.Buffer
			err := redisq.CheckDurability(t.Context(), c, redisq.DurabilityConfig{Logger: logTo(&logs)})
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), "--redis-volatile")):
				t.Fatalf("got %v, want a refusal saying %q and naming --redis-volatile", err, tc.refused)
			case tc.refused != "" && errcode.Of(err) != errcode.Usage:
				t.Fatalf("code %s, want usage", errcode.Of(err))
			case !strings.Contains(logs.String(), tc.warns):
				t.Fatalf("log lacks %q:\n%s", tc.warns, logs.String())
			}
			if tc.refused == "" {
				return
			}
			logs = proctest.Buffer{}
			if err := redisq.CheckDurability(t.Context(), c, redisq.DurabilityConfig{Volatile: true, Logger: logTo(&logs)}); err != nil {
				t.Fatalf("refused with Volatile: %v", err)
			}
			if !strings.Contains(logs.String(), "may lose accepted jobs") {
				t.Fatalf("no warning with Volatile:\n%s", logs.String())
			}
		})
	}
}

// A Redis restarted without persistence comes back empty: the generation
// check says the data was lost. One with its append-only file does not.
func TestGenerationDetectsLostData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		lost bool
	}{{"appendonly yes", nil, false}, {"appendonly no", []string{"--appendonly", "no"}, true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartWith(t, tc.args...)
			c := dial(t, srv.Addr)
			gen, err := c.Generation(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := gen.Check(t.Context()); err != nil {
				t.Fatalf("before the restart: %v", err)
			}
			if again, err := c.Generation(t.Context()); err != nil || again.ID() != gen.ID() {
				t.Fatalf("a second process found generation %v (%v), want %s", again, err, gen.ID())
			}
			srv.Kill()
			srv.Restart()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err = gen.Check(ctx)
			for ctx.Err() == nil && err != nil && !errors.Is(err, redisq.ErrDataLost) { // reconnecting
				time.Sleep(50 * time.Millisecond)
				err = gen.Check(ctx)
			}
			if got := errors.Is(err, redisq.ErrDataLost); got != tc.lost {
				t.Fatalf("after the restart: %v; want lost %v", err, tc.lost)
			}
			if tc.lost && (!strings.Contains(err.Error(), "Redis lost its data") || !strings.Contains(err.Error(), "may be gone")) {
				t.Fatalf("message: %v", err)
			}
		})
	}
}

// A failing queue length check says it is the queue's length check, for
// which queues, with code Unavailable; not "job store unavailable".
func TestQueueLengthCheckErrorNamesIt(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := dial(t, srv.Addr)
	s := redisq.NewStore(c, redisq.StoreConfig{})
	q := redisq.NewQueue(c, redisq.QueueConfig{Logger: quiet})
	t.Cleanup(q.Shutdown)
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := s.CountQueued(ctx)
	check := func(err error, names ...string) {
		t.Helper()
		if err == nil || errcode.Of(err) != errcode.Unavailable || !strings.Contains(err.Error(), "queue length check") || strings.Contains(err.Error(), "job store unavailable") {
			t.Fatalf("got %v (%s), want an Unavailable queue length check error", err, errcode.Of(err))
		}
		for _, n := range names {
			if !strings.Contains(err.Error(), n) {
				t.Fatalf("%v does not name %s", err, n)
			}
		}
	}
	check(err, "interactive and batch queues")
	_, err = q.Len(ctx, scheduler.Batch)
	check(err, "proofmill.batch")
}
