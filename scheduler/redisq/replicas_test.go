package redisq_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// startReplica starts a replica of master and waits until it has synced.
func startReplica(t *testing.T, master *redistest.Server) *redistest.Server {
	t.Helper()
	replica := redistest.StartWith(t, "--replicaof", "127.0.0.1", master.Port())
	c := dial(t, replica.Addr)
	for start := time.Now(); !strings.Contains(info(t, c), "master_link_status:up"); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the replica did not sync in 20s:\n%s", info(t, c))
		}
	}
	return replica
}

func info(t *testing.T, c *redisq.Conn) string {
	t.Helper()
	s, err := redisq.Info(t.Context(), c, "replication")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func replicaJob(id string) *scheduler.Job {
	return &scheduler.Job{ID: id, Circuit: "c", State: scheduler.Queued, Submitted: time.Now(), Version: 1}
}

// With MinReplicas 1, Create returns only once the replica has the job;
// with the replica stopped it answers Unavailable, saying too few
// replicas have it, and takes the job back, so a retry creates it again.
func TestMinReplicasWaitsForReplica(t *testing.T) {
	t.Parallel()
	master := redistest.StartWith(t, "--repl-diskless-sync-delay", "0") // sync a replica at once
	replica := startReplica(t, master)
	// A wait long enough for a busy machine while the replica is up (a
	// hang bound, not a speed), and a short one for when it is gone.
	s := redisq.NewStore(dial(t, master.Addr), redisq.StoreConfig{MinReplicas: 1, ReplicaTimeout: 20 * time.Second})
	down := redisq.NewStore(dial(t, master.Addr), redisq.StoreConfig{MinReplicas: 1, ReplicaTimeout: 500 * time.Millisecond})
	onReplica := redisq.NewStore(dial(t, replica.Addr), redisq.StoreConfig{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	for i := range 20 {
		id := "replicated-" + string(rune('a'+i))
		if _, created, err := s.Create(ctx, replicaJob(id)); err != nil || !created {
			t.Fatalf("create %s: %v %v", id, created, err)
		}
		if _, err := onReplica.Get(ctx, id); err != nil { // read at once: WAIT made sure
			t.Fatalf("the replica lacks %s after an acknowledged create: %v", id, err)
		}
	}
	j, err := s.Get(ctx, "replicated-a")
	if err != nil {
		t.Fatal(err)
	}
	j.Version++ // put back in line: waits too
	if err := s.Update(ctx, j); err != nil {
		t.Fatalf("update: %v", err)
	}

	replica.Stop()
	_, _, err = down.Create(ctx, replicaJob("unreplicated"))
	if !errors.Is(err, redisq.ErrTooFewReplicas) || errcode.Of(err) != errcode.Unavailable || !errcode.Retryable(err) ||
		!strings.Contains(err.Error(), "0 of the 1 required") {
		t.Fatalf("create without a replica: %v (%s); want a retryable Unavailable naming the replicas", err, errcode.Of(err))
	}
	if _, err := s.Get(ctx, "unreplicated"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("the unacknowledged job stayed: %v", err)
	}
	j.Version++
	if err := down.Update(ctx, j); !errors.Is(err, redisq.ErrTooFewReplicas) {
		t.Fatalf("update without a replica: %v", err)
	}

	replica.Restart()
	startCtx, cancelStart := context.WithTimeout(ctx, 40*time.Second)
	defer cancelStart()
	for {
		_, created, err := s.Create(startCtx, replicaJob("unreplicated"))
		if err == nil && created {
			break
		}
		if startCtx.Err() != nil {
			t.Fatalf("retry after the replica came back: %v %v", created, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MinReplicas 0 (the default) waits for nothing: a master with no
// replica accepts.
func TestNoMinReplicasNoWait(t *testing.T) {
	t.Parallel()
	s := redisq.NewStore(dial(t, redistest.Start(t).Addr), redisq.StoreConfig{})
	if _, created, err := s.Create(t.Context(), replicaJob("alone")); err != nil || !created {
		t.Fatalf("%v %v", created, err)
	}
}

// What waiting for a replica costs a submission, on loopback.
func BenchmarkCreateMinReplicas(b *testing.B) {
	master := redistest.StartWith(b, "--repl-diskless-sync-delay", "0")
	replica := redistest.StartWith(b, "--replicaof", "127.0.0.1", master.Port())
	rc, err := redisq.Dial(b.Context(), replica.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if s, _ := redisq.Info(b.Context(), rc, "replication"); strings.Contains(s, "master_link_status:up") {
			break
		}
		if time.Since(start) > 20*time.Second {
			b.Fatal("the replica did not sync")
		}
	}
	c, err := redisq.Dial(b.Context(), master.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{0, 1} {
		b.Run(fmt.Sprintf("min-replicas=%d", n), func(b *testing.B) {
			s := redisq.NewStore(c, redisq.StoreConfig{MinReplicas: n})
			i := 0
			for b.Loop() {
				i++
				if _, _, err := s.Create(b.Context(), replicaJob(fmt.Sprintf("bench-%d-%d", n, i))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The scheduler's conformance suite passes with every submission waiting
// for a replica.
func TestConformanceWithReplica(t *testing.T) {
	master := redistest.StartWith(t, "--repl-diskless-sync-delay", "0")
	startReplica(t, master)
	var waiting func(t *testing.T, b conformance.Backend) conformance.Backend
	waiting = func(t *testing.T, b conformance.Backend) conformance.Backend {
		b.Store = redisq.NewStore(dial(t, master.Addr), redisq.StoreConfig{MinReplicas: 1, ReplicaTimeout: 20 * time.Second})
		restart := b.Restart
		b.Restart = func(t *testing.T) conformance.Backend { return waiting(t, restart(t)) }
		return b
	}
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		flush(t, master.Addr)
		return waiting(t, open(t, master.Addr))
	})
}

// Two servers sharing Redis, 16 submitters each, never pass the queue
// bound together: the count and the write are one script. Each priority
// has its bound.
func TestQueueBoundHoldsAcrossServers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const bound = 10
	stores := []*redisq.Store{
		redisq.NewStore(dial(t, srv.Addr), redisq.StoreConfig{MaxQueued: bound}),
		redisq.NewStore(dial(t, srv.Addr), redisq.StoreConfig{MaxQueued: bound}),
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	errs := make(chan error, 64)
	for i := range 64 {
		go func() {
			_, _, err := stores[i%2].Create(ctx, replicaJob(fmt.Sprintf("bounded-%d", i)))
			errs <- err
		}()
	}
	full := 0
	for range 64 {
		switch err := <-errs; {
		case errors.Is(err, scheduler.ErrQueueFull):
			full++
		case err != nil:
			t.Fatal(err)
		}
	}
	n, err := stores[0].CountQueued(ctx)
	if err != nil || n[scheduler.Interactive] != bound || full != 64-bound {
		t.Fatalf("%v waiting (%v), %d refused; want %d waiting, %d refused", n, err, full, bound, 64-bound)
	}
	batch := replicaJob("bounded-batch")
	batch.Priority = scheduler.Batch
	if _, created, err := stores[1].Create(ctx, batch); err != nil || !created {
		t.Fatalf("a batch job with the interactive line full: %v %v", created, err)
	}
}
