package vault_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/vault"
	"github.com/proofmill/proofmill/vault/ringtest"
)

func TestFileRing(t *testing.T) {
	ringtest.Run(t, func(t *testing.T) vault.Ring { return ring(t) })
}

// The ring file is the operator's secret's companion: mode 0600, and a
// damaged one is refused, never read as empty.
func TestFileRingFile(t *testing.T) {
	r := ring(t)
	if _, err := r.AddDataKey(t.Context(), vault.DataKey{Tenant: "t", Version: 1, Wrapped: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(r.Path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("ring file: %v, %v", info.Mode(), err)
	}
	os.WriteFile(r.Path, []byte("{not json"), 0o600)
	if _, err := r.DataKeys(t.Context()); err == nil {
		t.Fatal("a damaged ring read as a ring")
	}
	if _, err := os.Stat(filepath.Dir(r.Path)); err != nil {
		t.Fatal(err)
	}
}
