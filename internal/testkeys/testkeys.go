// Package testkeys gives tests one key store that all test processes share,
// so each circuit's development setup runs once per machine, not per test.
package testkeys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/prover"
)

// Dir is $PROOFMILL_TEST_KEYS, or a folder under the temp dir named after a
// hash of the circuits' source and go.sum, so a changed circuit (or gnark
// version) never meets keys made for the old one.
func Dir() string {
	if dir := os.Getenv("PROOFMILL_TEST_KEYS"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "proofmill-test-keys", sourceHash())
}

var sourceHash = sync.OnceValue(func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "unknown"
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	h := sha256.New()
	hashFile := func(path string) {
		if f, err := os.Open(path); err == nil {
			io.WriteString(h, path[len(root):])
			io.Copy(h, f)
			f.Close()
		}
	}
	filepath.WalkDir(filepath.Join(root, "circuits"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			hashFile(path)
		}
		return nil
	})
	hashFile(filepath.Join(root, "go.sum"))
	return hex.EncodeToString(h.Sum(nil))[:16]
})

// Prover returns a CPU prover over the shared store that makes missing keys,
// except for a circuit above circuits.ImplicitKeysLimit (abs-pool-4096):
// the prover refuses those with ErrNoKeys, so no test sets up their keys
// by using them; a benchmark that names one sets it up itself.
func Prover(t testing.TB) *prover.Prover {
	t.Helper()
	p, err := prover.New(prover.Config{
		Store:    prover.KeyStore{Dir: Dir()},
		DevSetup: true,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Prove proves input with a circuit (by ID) over the shared store.
func Prove(t testing.TB, id string, input []byte) *prover.Proof {
	t.Helper()
	c, err := circuits.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prover(t).Prove(context.Background(), c, input)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteManifest writes a development-keys manifest, and nothing else, for
// circuit c into the key store at dir: a store that lists keys without
// holding them, for tests that must not set any up.
func WriteManifest(t testing.TB, dir string, c *circuits.Circuit, constraints int) {
	t.Helper()
	m, err := json.Marshal(prover.Manifest{Circuit: c.ID, Constraints: constraints, Origin: prover.OriginDevelopment})
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, filepath.FromSlash(c.ID))
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "manifest.json"), m, 0o644); err != nil {
		t.Fatal(err)
	}
}
