package redisq_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		flush(t, srv.Addr)
		return open(t, srv.Addr)
	})
}

func flush(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	if err := redisq.FlushAll(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func dial(t *testing.T, addr string) *redisq.Conn {
	t.Helper()
	c, err := redisq.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testTenants have queues of their own in the conformance runs; other
// tenants share the common ones.
var testTenants = map[string]int{"bank-a": 1, "bank-b": 2}

// open is one process's view of Redis: its own connections, store, and a
// consumer holding up to 4 tasks.
func open(t *testing.T, addr string) conformance.Backend {
	c := dial(t, addr)
	q := redisq.NewQueue(c, redisq.QueueConfig{Concurrency: 4, Poll: 50 * time.Millisecond, Logger: quiet, Tenants: testTenants})
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			q.Shutdown()
		}
	}
	t.Cleanup(stop)
	st := redisq.NewStore(c, redisq.StoreConfig{})
	return conformance.Backend{
		Store: st, Queue: q, Admitter: redisq.NewAdmitter(st, q),
		Pause: func() error { return pauseQueues(addr, q) }, Resume: func() error { return resumeQueues(addr, q) },
		Restart: func(t *testing.T) conformance.Backend {
			stop() // the process stops: asynq puts its tasks back
			return open(t, addr)
		},
	}
}

// pauseQueues pauses every queue q serves (asynq's queue pause), so that
// no consumer takes a task ahead of Pop; resumeQueues undoes it. Pausing
// is for tests: it is done here with asynq's Inspector, not by redisq.
func pauseQueues(addr string, q *redisq.Queue) error {
	return eachQueue(addr, q, (*asynq.Inspector).PauseQueue)
}

func resumeQueues(addr string, q *redisq.Queue) error {
	return eachQueue(addr, q, (*asynq.Inspector).UnpauseQueue)
}

func eachQueue(addr string, q *redisq.Queue, op func(*asynq.Inspector, string) error) error {
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: addr})
	defer in.Close()
	for _, p := range scheduler.Priorities {
		for _, name := range q.Names(p) {
			if err := op(in, name); err != nil {
				return err
			}
		}
	}
	return nil
}
