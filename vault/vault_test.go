package vault_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/vault"
)

func master(t testing.TB) *vault.MasterKey {
	t.Helper()
	m, _, err := vault.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)} }
func ring(t testing.TB) vault.FileRing {
	return vault.FileRing{Path: filepath.Join(t.TempDir(), "data-keys.json")}
}

func open(t testing.TB, r vault.Ring, c *clock, masters ...*vault.MasterKey) *vault.Vault {
	t.Helper()
	v, err := vault.New(vault.Config{Masters: masters, Ring: r, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRoundTripBindsJobAndTenant(t *testing.T) {
	ctx := context.Background()
	v := open(t, ring(t), newClock(), master(t))
	witness := []byte("INVOICE-MARKER-7731 salt 0xfeedface")
	c, err := v.Encrypt(ctx, "bank-a", "job1", witness)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(c.Data, witness[:14]) || bytes.Contains(c.JobKey, witness[:14]) {
		t.Fatal("the ciphertext holds the plaintext")
	}
	got, err := v.Decrypt(ctx, "bank-a", "job1", c)
	if err != nil || !bytes.Equal(got, witness) {
		t.Fatalf("decrypt: %q, %v", got, err)
	}
	for _, tc := range []struct{ name, tenant, job string }{
		{"other job", "bank-a", "job2"},
		{"other tenant", "bank-b", "job1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Decrypt(ctx, tc.tenant, tc.job, c); errcode.Of(err) != errcode.DataKey {
				t.Fatalf("err = %v, want data_key", err)
			}
		})
	}
	tampered := *c
	tampered.Data = bytes.Clone(c.Data)
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := v.Decrypt(ctx, "bank-a", "job1", &tampered); !errors.Is(err, vault.ErrWrongKey) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestRotationKeepsQueuedJobsAndRetireDestroysUnused(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	r := ring(t)
	m := master(t)
	v := open(t, r, c, m)
	old, err := v.Encrypt(ctx, "bank-a", "queued", []byte("w1"))
	if err != nil {
		t.Fatal(err)
	}
	ended, err := v.Encrypt(ctx, "bank-b", "ended", []byte("w2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"bank-a", "bank-b"} {
		if k, err := v.Rotate(ctx, tenant); err != nil || k.Version != 2 {
			t.Fatalf("rotate %s: %+v, %v", tenant, k, err)
		}
	}
	// Another process sees the rotation once its Refresh passes.
	other := open(t, r, c, m)
	c.add(2 * time.Minute)
	fresh, err := other.Encrypt(ctx, "bank-a", "new", []byte("w3"))
	if err != nil || fresh.KeyVersion != 2 {
		t.Fatalf("a job after rotation: version %d, %v", fresh.KeyVersion, err)
	}
	if got, err := other.Decrypt(ctx, "bank-a", "queued", old); err != nil || string(got) != "w1" {
		t.Fatalf("queued job after rotation: %q, %v", got, err)
	}
	unfinished := []*scheduler.Job{{ID: "queued", Tenant: "bank-a", EncryptedWitness: old}, {ID: "new", Tenant: "bank-a", EncryptedWitness: fresh}}
	inUse := func(context.Context) (map[string]bool, error) { return vault.InUse(unfinished), nil }
	gone, err := v.Retire(ctx, inUse)
	if err != nil || len(gone) != 1 || gone[0] != "bank-b/1" {
		t.Fatalf("retire: %v, %v (want bank-b/1 only: bank-a/1 holds a queued job)", gone, err)
	}
	c.add(2 * time.Minute) // other processes forget a destroyed key within Refresh
	if _, err := other.Decrypt(ctx, "bank-b", "ended", ended); !errors.Is(err, vault.ErrNoDataKey) {
		t.Fatalf("a stale copy of an ended job after its key was destroyed: %v, want ErrNoDataKey", err)
	}
	unfinished = unfinished[1:] // the queued job ended
	if gone, err := v.Retire(ctx, inUse); err != nil || len(gone) != 1 || gone[0] != "bank-a/1" {
		t.Fatalf("retire after the job ended: %v, %v", gone, err)
	}
	if got, err := v.Decrypt(ctx, "bank-a", "new", fresh); err != nil || string(got) != "w3" {
		t.Fatalf("the newest version survives: %q, %v", got, err)
	}
}

func TestRetireWaitsForOtherProcessesToMoveOn(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	v := open(t, ring(t), c, master(t))
	if _, err := v.Encrypt(ctx, "t", "j", []byte("w")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Rotate(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	none := func(context.Context) (map[string]bool, error) { return nil, nil }
	if gone, err := v.Retire(ctx, none); err != nil || len(gone) != 0 {
		t.Fatalf("retired %v right after the rotation (%v): a process still on version 1 would lose its next job", gone, err)
	}
	c.add(3 * time.Minute)
	if gone, err := v.Retire(ctx, none); err != nil || len(gone) != 1 {
		t.Fatalf("after twice Refresh: %v, %v", gone, err)
	}
}

func TestRewrapTakesInANewMasterKey(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	r := ring(t)
	oldM, newM := master(t), master(t)
	v := open(t, r, c, oldM)
	ct, err := v.Encrypt(ctx, "bank-a", "j", []byte("witness"))
	if err != nil {
		t.Fatal(err)
	}
	onlyNew := open(t, r, c, newM)
	if _, err := onlyNew.Decrypt(ctx, "bank-a", "j", ct); errcode.Of(err) != errcode.DataKey || !bytes.Contains([]byte(err.Error()), []byte(oldM.ID())) {
		t.Fatalf("another master key: %v, want data_key naming %s", err, oldM.ID())
	}
	both := open(t, r, c, newM, oldM)
	if n, err := both.Rewrap(ctx); err != nil || n != 1 {
		t.Fatalf("rewrap: %d, %v", n, err)
	}
	again := open(t, r, c, newM)
	if got, err := again.Decrypt(ctx, "bank-a", "j", ct); err != nil || string(got) != "witness" {
		t.Fatalf("after rewrap, the new master key alone: %q, %v", got, err)
	}
	if keys, _ := again.Keys(ctx); len(keys) != 1 || keys[0].Master != newM.ID() {
		t.Fatalf("keys after rewrap: %+v", keys)
	}
}

func TestProcessesRacingForAFirstKeyShareOne(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	r := ring(t)
	m := master(t)
	const n = 4
	cts := make([]*scheduler.Ciphertext, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := open(t, r, c, m)
			ct, err := v.Encrypt(ctx, "t", "j", []byte("w"))
			if err != nil {
				t.Error(err)
			}
			cts[i] = ct
		})
	}
	wg.Wait()
	reader := open(t, r, c, m)
	for i, ct := range cts {
		if ct == nil {
			continue
		}
		if _, err := reader.Decrypt(ctx, "t", "j", ct); err != nil {
			t.Fatalf("process %d's job does not open under the stored key: %v", i, err)
		}
	}
	if keys, _ := reader.Keys(ctx); len(keys) != 1 {
		t.Fatalf("%d keys stored, want 1", len(keys))
	}
}

func TestNewKeyRefusesATenantThatHasOne(t *testing.T) {
	ctx := context.Background()
	v := open(t, ring(t), newClock(), master(t))
	if k, err := v.NewKey(ctx, "bank-a"); err != nil || k.Version != 1 {
		t.Fatalf("new: %+v, %v", k, err)
	}
	if _, err := v.NewKey(ctx, "bank-a"); errcode.Of(err) != errcode.KeysExist {
		t.Fatalf("second new: %v", err)
	}
}

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	m, created, err := vault.LoadOrCreateMasterKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	again, created, err := vault.LoadOrCreateMasterKey(path)
	if err != nil || created || again.ID() != m.ID() {
		t.Fatalf("load: %v %v", created, err)
	}
	if _, err := vault.WriteMasterKeyFile(path); errcode.Of(err) != errcode.KeysExist {
		t.Fatalf("overwrite: %v", err)
	}
	if _, err := vault.ParseMasterKey([]byte("c2hvcnQ=")); errcode.Of(err) != errcode.Usage {
		t.Fatalf("short key: %v", err)
	}
}
