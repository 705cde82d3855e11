// Package ringtest is the conformance suite of vault.Ring: every ring (the
// file beside the journal, the Redis hash) passes the same tests.
package ringtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/proofmill/proofmill/vault"
)

// Run tests the ring newRing returns; each call must return an empty ring.
func Run(t *testing.T, newRing func(t *testing.T) vault.Ring) {
	ctx := context.Background()
	key := func(tenant string, version int, wrapped string) vault.DataKey {
		return vault.DataKey{Tenant: tenant, Version: version, Master: "mk1-test", Wrapped: []byte(wrapped), Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	}
	find := func(t *testing.T, r vault.Ring, tenant string, version int) (vault.DataKey, bool) {
		t.Helper()
		keys, err := r.DataKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Tenant == tenant && k.Version == version {
				return k, true
			}
		}
		return vault.DataKey{}, false
	}
	t.Run("add once", func(t *testing.T) {
		r := newRing(t)
		if keys, err := r.DataKeys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("a new ring: %v, %v", keys, err)
		}
		if added, err := r.AddDataKey(ctx, key("bank-a", 1, "first")); err != nil || !added {
			t.Fatalf("add: %v, %v", added, err)
		}
		if added, err := r.AddDataKey(ctx, key("bank-a", 1, "second")); err != nil || added {
			t.Fatalf("add the same version again: %v, %v (want false: the first stands)", added, err)
		}
		if k, ok := find(t, r, "bank-a", 1); !ok || string(k.Wrapped) != "first" || !k.Created.Equal(key("", 0, "").Created) || k.Master != "mk1-test" {
			t.Fatalf("stored: %+v, %v", k, ok)
		}
		if added, err := r.AddDataKey(ctx, key("", 1, "no tenant")); err != nil || !added {
			t.Fatalf("the key of jobs of no tenant: %v, %v", added, err)
		}
	})
	t.Run("replace and delete", func(t *testing.T) {
		r := newRing(t)
		r.AddDataKey(ctx, key("bank-a", 1, "old wrap"))
		r.AddDataKey(ctx, key("bank-a", 2, "v2"))
		if err := r.ReplaceDataKey(ctx, key("bank-a", 1, "new wrap")); err != nil {
			t.Fatal(err)
		}
		if k, _ := find(t, r, "bank-a", 1); string(k.Wrapped) != "new wrap" {
			t.Fatalf("after replace: %q", k.Wrapped)
		}
		if err := r.DeleteDataKey(ctx, "bank-a", 1); err != nil {
			t.Fatal(err)
		}
		if _, ok := find(t, r, "bank-a", 1); ok {
			t.Fatal("a deleted key is still there")
		}
		if _, ok := find(t, r, "bank-a", 2); !ok {
			t.Fatal("deleting one version took another")
		}
		if err := r.DeleteDataKey(ctx, "bank-a", 7); err != nil {
			t.Fatalf("deleting a missing version: %v", err)
		}
	})
	t.Run("concurrent adds", func(t *testing.T) {
		r := newRing(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 8 {
			wg.Go(func() {
				added, err := r.AddDataKey(ctx, key("bank-a", 1, string(rune('a'+i))))
				if err != nil {
					t.Error(err)
				}
				if added {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if keys, _ := r.DataKeys(ctx); won != 1 || len(keys) != 1 {
			t.Fatalf("%d adds won, %d keys stored; want 1 and 1", won, len(keys))
		}
	})
}
