package node

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/proofmill/proofmill/scheduler/embedded"
	"github.com/proofmill/proofmill/vault"
)

// Housekeeping rotates a tenant's data key once its newest version is
// older than the rotation period, judged from the ring (so servers sharing
// it agree), and not before.
func TestHousekeepingRotatesByAge(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, _, err := vault.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	ring := vault.FileRing{Path: filepath.Join(t.TempDir(), "data-keys.json")}
	v, err := vault.New(vault.Config{Masters: []*vault.MasterKey{m}, Ring: ring, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewKey(ctx, "bank-a"); err != nil {
		t.Fatal(err)
	}
	store, err := embedded.Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := &privacy{vault: v}
	versions := func() int {
		keys, err := v.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	p.retire(ctx, store, time.Hour, quiet)
	if n := versions(); n != 1 {
		t.Fatalf("rotated a key made just now: %d versions", n)
	}
	p.retire(ctx, store, 0, quiet)
	if n := versions(); n != 1 {
		t.Fatalf("rotated with rotation off: %d versions", n)
	}
	time.Sleep(time.Millisecond)
	p.retire(ctx, store, time.Nanosecond, quiet)
	if n := versions(); n != 2 {
		t.Fatalf("a key older than the period: %d versions, want 2", n)
	}
}
