package redisq_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// Behind Sentinel, jobs acknowledged with MinReplicas 1 survive kill -9 of
// the master: after the failover the promoted replica has every one, the
// generation is unchanged (no data lost), and the submissions that failed
// meanwhile were retryable. The failover's length is logged, not checked.
func TestSentinelFailoverKeepsAcknowledgedJobs(t *testing.T) {
	t.Parallel()
	master := redistest.StartWith(t, "--repl-diskless-sync-delay", "0")
	startReplica(t, master)
	sentinel := redistest.StartSentinel(t, "pm", master)
	sc := dial(t, sentinel.Addr)
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		info, err := redisq.Info(t.Context(), sc, "sentinel")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "slaves=1") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("Sentinel did not find the replica in 30 s:\n%s", info)
		}
	}
	c := dial(t, "redis-sentinel://"+sentinel.Addr+"?master=pm")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := redisq.CheckDurability(ctx, c, redisq.DurabilityConfig{Logger: quiet}); err != nil {
		t.Fatalf("durability through Sentinel: %v", err)
	}
	gen, err := c.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked := redisq.NewStore(c, redisq.StoreConfig{MinReplicas: 1, ReplicaTimeout: 20 * time.Second}) // a hang bound for a busy machine
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("before-failover-%d", i)
		if _, _, err := acked.Create(ctx, replicaJob(id)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	master.Kill()
	killed := time.Now()
	s := redisq.NewStore(c, redisq.StoreConfig{}) // the promoted replica has no replica of its own
	failed := 0
	for i := 0; ; i++ {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err := s.Create(actx, replicaJob(fmt.Sprintf("during-failover-%d", i)))
		acancel()
		if err == nil {
			break
		}
		failed++
		if !errcode.Retryable(err) {
			t.Fatalf("a submission during the failover got a final error: %v (%s)", err, errcode.Of(err))
		}
		if time.Since(killed) > time.Minute {
			t.Fatalf("no failover in a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("failover: first submission accepted %s after kill -9 of the master; %d failed before (100 ms apart)", time.Since(killed).Round(100*time.Millisecond), failed)
	for _, id := range ids {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("acknowledged job %s lost in the failover: %v", id, err)
		}
	}
	if err := gen.Check(ctx); err != nil {
		t.Fatalf("generation after the failover: %v", err)
	}
}
