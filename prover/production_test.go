package prover

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ceremonyStore runs a ceremony of the cubic circuit and imports its keys
// into a fresh key store, as `keys import` does.
func ceremonyStore(t testing.TB) (KeyStore, *Keys) {
	t.Helper()
	cer := runCeremony(t, t.TempDir())
	k, err := cer.Verify([]byte("phase two beacon, fixed later"))
	if err != nil {
		t.Fatal(err)
	}
	store := KeyStore{Dir: t.TempDir()}
	if err := store.Put(cubicCircuit.ID, k, false); err != nil {
		t.Fatal(err)
	}
	return store, k
}

func editStoredManifest(t *testing.T, store KeyStore, id string, edit func(*Manifest)) {
	t.Helper()
	path := filepath.Join(store.path(id), fileManifest)
	m, err := store.Manifest(id)
	if err != nil {
		t.Fatal(err)
	}
	edit(&m)
	data, _ := json.Marshal(m)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func productionKeys(t *testing.T, store KeyStore, verdictDir string) error {
	t.Helper()
	p, err := New(Config{Store: store, Production: true, VerdictDir: verdictDir, Logger: quietLog})
	if err != nil {
		return err
	}
	_, err = p.Keys(cubicCircuit)
	return err
}

// Production accepts ceremony keys whose transcript, kept in the key store
// at import, verifies; and caches that verdict per key set.
func TestProductionAcceptsVerifiedCeremonyKeys(t *testing.T) {
	store, _ := ceremonyStore(t)
	verdictDir := t.TempDir()
	if err := productionKeys(t, store, verdictDir); err != nil {
		t.Fatalf("production refused keys from a verified ceremony: %v", err)
	}
	entries, _ := os.ReadDir(verdictDir)
	if len(entries) != 2 { // the secret and one verdict
		t.Fatalf("verdict cache holds %d files, want the secret and one verdict", len(entries))
	}
	// With the verdict cached, the transcript is not read again.
	if err := os.RemoveAll(filepath.Join(store.path(cubicCircuit.ID), dirCeremony, "phase2")); err != nil {
		t.Fatal(err)
	}
	if err := productionKeys(t, store, verdictDir); err != nil {
		t.Fatalf("a cached verdict was not used: %v", err)
	}
	// A forged verdict (any bytes but the MAC) is no verdict.
	for _, e := range entries {
		if e.Name() != "secret" {
			os.WriteFile(filepath.Join(verdictDir, e.Name()), []byte("ok"), 0o600)
		}
	}
	if err := productionKeys(t, store, verdictDir); !errors.Is(err, ErrDevelopmentKeys) {
		t.Fatalf("a forged verdict and a damaged transcript passed: %v", err)
	}
}

// The manifest's origin is a text field: editing it, or pairing development
// keys with a real ceremony's transcript and record, does not make keys
// production keys.
func TestProductionRefusesKeysWithoutAVerifiedCeremony(t *testing.T) {
	devStore := func(t *testing.T) KeyStore {
		store := KeyStore{Dir: t.TempDir()}
		k, err := Setup(cubicCircuit, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Save(cubicCircuit.ID, k); err != nil {
			t.Fatal(err)
		}
		return store
	}
	ceremony, real := ceremonyStore(t)
	cases := []struct {
		name, want string
		make       func(t *testing.T) KeyStore
	}{
		{"development keys, origin edited", "records no ceremony transcript", func(t *testing.T) KeyStore {
			store := devStore(t)
			editStoredManifest(t, store, cubicCircuit.ID, func(m *Manifest) { m.Origin = OriginCeremony })
			return store
		}},
		{"development keys, a ceremony's record and transcript copied in", "is not the one its ceremony made", func(t *testing.T) KeyStore {
			store := devStore(t)
			editStoredManifest(t, store, cubicCircuit.ID, func(m *Manifest) { m.Origin, m.Ceremony = OriginCeremony, real.Manifest.Ceremony })
			src := filepath.Join(ceremony.path(cubicCircuit.ID), dirCeremony)
			if err := os.CopyFS(filepath.Join(store.path(cubicCircuit.ID), dirCeremony), os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			return store
		}},
		{"ceremony keys, transcript damaged", "does not verify", func(t *testing.T) KeyStore {
			store := KeyStore{Dir: t.TempDir()}
			if err := os.CopyFS(store.Dir, os.DirFS(ceremony.Dir)); err != nil {
				t.Fatal(err)
			}
			flip(t, filepath.Join(store.path(cubicCircuit.ID), dirCeremony, "phase2", "0002.bin"), 40)
			return store
		}},
		{"ceremony keys, transcript removed", "no ceremony transcript", func(t *testing.T) KeyStore {
			store := KeyStore{Dir: t.TempDir()}
			if err := os.CopyFS(store.Dir, os.DirFS(ceremony.Dir)); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(filepath.Join(store.path(cubicCircuit.ID), dirCeremony))
			return store
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := productionKeys(t, c.make(t), t.TempDir())
			if !errors.Is(err, ErrDevelopmentKeys) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "keys import") {
				t.Fatalf("got %v, want development_keys: …%s…, saying to import", err, c.want)
			}
		})
	}
}

func flip(t *testing.T, path string, at int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[at] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifyCeremony is what production pays per circuit at a start
// without a cached verdict (the cubic circuit; see README for larger ones).
func BenchmarkVerifyCeremony(b *testing.B) {
	store, k := ceremonyStore(b)
	for b.Loop() {
		if err := store.VerifyCeremony(cubicCircuit, k); err != nil {
			b.Fatal(err)
		}
	}
}
