// Package testkeys gives tests one key store that all test processes share,
// so each circuit's development setup runs once per machine, not per test.
package testkeys

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/prover"
)

// Dir is $PROOFMILL_TEST_KEYS, or proofmill-test-keys under the temp dir.
// CI points it at a folder named after the circuits' source, so a changed
// circuit never meets stale keys.
func Dir() string {
	if dir := os.Getenv("PROOFMILL_TEST_KEYS"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "proofmill-test-keys")
}

// Prover returns a CPU prover over the shared store that makes missing keys.
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
