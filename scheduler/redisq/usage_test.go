package redisq_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// A tally's hash expires UsageRetention after its day ends; a day past
// retention is dropped from the index, and its hash is gone; a write that
// fails its version check adds nothing.
func TestUsageRetention(t *testing.T) {
	srv := redistest.Start(t)
	st := redisq.NewStore(dial(t, srv.Addr), redisq.StoreConfig{})
	ctx := context.Background()
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rc.Close() })

	finish := func(id string, day time.Time, proofs int64) {
		t.Helper()
		j := &scheduler.Job{ID: id, Tenant: "bank-a", State: scheduler.Running, Version: 1, Submitted: day}
		if _, _, err := st.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		j.Version, j.State = 2, scheduler.Succeeded
		if err := st.UpdateCounting(ctx, j, scheduler.Usage{Tenant: "bank-a", Day: scheduler.Day(day), Circuit: "c", Backend: "cpu", Proofs: proofs, ProofMillis: 10}); err != nil {
			t.Fatal(err)
		}
		j.Version = 5 // stale: stored is 2
		if err := st.UpdateCounting(ctx, j, scheduler.Usage{Tenant: "bank-a", Day: scheduler.Day(day), Circuit: "c", Backend: "cpu", Proofs: 100}); err == nil {
			t.Fatal("a stale write was taken")
		}
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	old := today.Add(-scheduler.UsageRetention - 48*time.Hour)
	finish("old", old, 1)
	finish("new", today, 2)

	us, err := st.Usage(ctx, scheduler.UsageQuery{All: true})
	if err != nil || len(us) != 1 || us[0].Day != scheduler.Day(today) || us[0].Proofs != 2 || us[0].ProofMillis != 10 {
		t.Fatalf("usage: %+v %v", us, err)
	}
	key := "proofmill:{j}:usage:" + scheduler.Day(today) + ":bank-a"
	at, err := rc.PExpireTime(ctx, key).Result()
	if want := today.Add(24*time.Hour + scheduler.UsageRetention); err != nil || at != time.Duration(want.UnixMilli())*time.Millisecond {
		t.Fatalf("%s expires at %v (%v), want %v", key, at, err, want)
	}
	if n, err := rc.Exists(ctx, "proofmill:{j}:usage:"+scheduler.Day(old)+":bank-a").Result(); err != nil || n != 0 {
		t.Fatalf("a day past retention is still stored: %d %v", n, err)
	}
	if n, err := rc.ZCard(ctx, "proofmill:{j}:usage-days").Result(); err != nil || n != 1 {
		t.Fatalf("the index of days holds %d, want 1: %v", n, err)
	}
}
