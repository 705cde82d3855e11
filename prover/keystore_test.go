package prover_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
)

// copyEntry copies the shared store's invoice keys into a private store.
func copyEntry(t *testing.T) (prover.KeyStore, string) {
	t.Helper()
	const id = "invoice-consistency/v1"
	if _, err := testkeys.Prover(t).Keys(lookup(t, id)); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(testkeys.Dir(), filepath.FromSlash(id))
	store := prover.KeyStore{Dir: t.TempDir()}
	dst := filepath.Join(store.Dir, filepath.FromSlash(id))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return store, dst
}

func TestKeyStoreLoadsWhatItSaved(t *testing.T) {
	store, _ := copyEntry(t)
	k, err := store.Load("invoice-consistency/v1")
	if err != nil {
		t.Fatal(err)
	}
	if k.Manifest.Origin != prover.OriginDevelopment || k.Manifest.Constraints != k.CCS.GetNbConstraints() {
		t.Fatalf("manifest %+v", k.Manifest)
	}
	if len(k.VerifyingKeyHash()) != 64 {
		t.Fatalf("verifying key hash %q", k.VerifyingKeyHash())
	}
	// Saving over existing keys is refused; the existing keys stay.
	if err := store.Save("invoice-consistency/v1", k); !errors.Is(err, prover.ErrKeysExist) {
		t.Fatalf("save over existing keys: got %v", err)
	}
}

func TestKeyStoreDetectsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		kind   error
	}{
		{"flipped bit in proving key", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "proving.key")) }, prover.ErrCorruptKeys},
		{"flipped bit in verifying key", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "verifying.key")) }, prover.ErrCorruptKeys},
		{"flipped bit in constraint system", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "circuit.r1cs")) }, prover.ErrCorruptKeys},
		{"missing verifying key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "verifying.key")) }, prover.ErrCorruptKeys},
		{"other platform", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *prover.Manifest) { m.Platform = "s390x" })
		}, prover.ErrCorruptKeys},
		{"other circuit's manifest", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *prover.Manifest) { m.Circuit = "abs-pool-16/v1" })
		}, prover.ErrCorruptKeys},
		{"unreadable manifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "manifest.json"))
			os.Mkdir(filepath.Join(dir, "manifest.json"), 0o755) // read fails, as without permission (tests may run as root)
		}, prover.ErrCorruptKeys},
		{"manifest not JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"circuit": `), 0o644)
		}, prover.ErrCorruptKeys},
		{"no entry", func(t *testing.T, dir string) { os.RemoveAll(dir) }, prover.ErrNoKeys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store, dir := copyEntry(t)
			c.damage(t, dir)
			if _, err := store.Load("invoice-consistency/v1"); !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
		})
	}
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editManifest(t *testing.T, dir string, edit func(*prover.Manifest)) {
	t.Helper()
	path := filepath.Join(dir, "manifest.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m prover.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	data, _ = json.Marshal(m)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A proving key damaged in its length fields, with the manifest's hash
// recomputed to match (a copy gone wrong before it was hashed, or a
// careless edit), is corrupt_keys naming the file: gnark's ReadDump would
// allocate what the field says and panic (makeslice) or run out of memory.
func TestKeyStoreRefusesCorruptProvingKeyHeader(t *testing.T) {
	// Offsets in the dump: marker (8), domain (169), five points (448).
	const wiresAt = 8 + 169 + 448
	huge := []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	cases := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"wire count", func(b []byte) []byte { copy(b[wiresAt:], huge); return b }},
		{"domain size", func(b []byte) []byte { copy(b[8:], []byte{0, 0, 0, 0, 0x08, 0, 0, 0}); return b }},
		{"a point slice's length", func(b []byte) []byte {
			wires := int(binary.BigEndian.Uint64(b[wiresAt:]))
			at := wiresAt + 24 + 2*wires + 4 // G1.A's count
			copy(b[at:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f})
			return b
		}},
		{"a compressed point flag", func(b []byte) []byte { b[8+169] |= 0b10 << 6; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1000] }},
		{"a byte too many", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store, dir := copyEntry(t)
			path := filepath.Join(dir, "proving.key")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data = c.edit(data)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			editManifest(t, dir, func(m *prover.Manifest) { m.SHA256["proving.key"] = hex.EncodeToString(sum[:]) })
			_, err = store.Load("invoice-consistency/v1")
			if !errors.Is(err, prover.ErrCorruptKeys) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want corrupt_keys naming %s", err, path)
			}
		})
	}
}

// A failed load is remembered, so submissions are refused without
// reloading, until the key files change: repaired keys are used with no
// restart.
func TestReadyUntilRepaired(t *testing.T) {
	store, dir := copyEntry(t)
	c := lookup(t, "invoice-consistency/v1")
	p, err := prover.New(prover.Config{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "proving.key")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, path)
	if err := p.Ready(c); !errors.Is(err, prover.ErrCorruptKeys) {
		t.Fatalf("ready with a damaged key: %v", err)
	}
	if err := p.KeysStatus(c); !errors.Is(err, prover.ErrCorruptKeys) {
		t.Fatalf("status after a failed load: %v", err)
	}
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute) // a coarse clock could give the repair the damage's time
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if err := p.KeysStatus(c); err != nil {
		t.Fatalf("status once repaired: %v", err)
	}
	if err := p.Ready(c); err != nil {
		t.Fatalf("ready once repaired: %v", err)
	}
}

// The gnark format serves the key file itself, so its sha256sum is the
// key's name; every format's digest is over exactly the bytes served.
func TestExportedKeysHashToTheirDigests(t *testing.T) {
	store, dir := copyEntry(t)
	const id = "invoice-consistency/v1"
	m, err := store.Manifest(id)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "verifying.key"))
	if err != nil {
		t.Fatal(err)
	}
	digests, err := store.VerifyingKeyDigests(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"gnark", "json", "solidity"} {
		key, err := store.ExportVerifyingKey(id, format)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(key.Data)
		if got := hex.EncodeToString(sum[:]); got != key.SHA256 || got != digests[format] {
			t.Fatalf("%s: sha256 %s, served as %s, listed as %s", format, got, key.SHA256, digests[format])
		}
		if key.KeyHash != m.VerifyingKeyHash() {
			t.Fatalf("%s: names key %s, the manifest %s", format, key.KeyHash, m.VerifyingKeyHash())
		}
		if format == "gnark" && string(key.Data) != string(file) {
			t.Fatal("the gnark format is not the key file")
		}
	}
	if digests["gnark"] != m.VerifyingKeyHash() || digests["json"] == digests["solidity"] {
		t.Fatalf("digests %v, key %s", digests, m.VerifyingKeyHash())
	}
	// A damaged key file is served in no format.
	file[len(file)-1] ^= 1
	if err := os.WriteFile(filepath.Join(dir, "verifying.key"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"gnark", "json"} {
		if _, err := store.ExportVerifyingKey(id, format); !errors.Is(err, prover.ErrCorruptKeys) {
			t.Fatalf("%s of a damaged key: %v", format, err)
		}
	}
	if _, err := store.ExportVerifyingKey(id, "pdf"); err == nil {
		t.Fatal("an unknown format was served")
	}
}

// Listing a circuit without keys never compiles it (that took 10–45 s on
// the first ListCircuits after a start): its size comes from the
// registry's snapshot.
func TestSummaryWithoutKeysDoesNotCompile(t *testing.T) {
	c := &circuits.Circuit{ID: "never-compiled/v1", Constraints: 1234, New: func() frontend.Circuit {
		t.Fatal("Summary compiled the circuit")
		return nil
	}}
	got := prover.KeyStore{Dir: t.TempDir()}.Summary(c)
	if got != (prover.Summary{Constraints: 1234, Origin: prover.OriginNone}) {
		t.Fatalf("Summary = %+v", got)
	}
	// Every registered circuit has its size without keys.
	for _, info := range (prover.KeyStore{Dir: t.TempDir()}).Catalog() {
		if info.Summary.Constraints == 0 || info.Summary.Constraints != info.Circuit.Constraints {
			t.Errorf("%s: %d constraints listed, registry has %d", info.ID, info.Summary.Constraints, info.Circuit.Constraints)
		}
	}
}
