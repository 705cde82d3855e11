package testkeys

import (
	"path/filepath"
	"testing"
)

func TestDirIsKeyedBySource(t *testing.T) {
	t.Setenv("PROOFMILL_TEST_KEYS", "")
	dir := Dir()
	if h := filepath.Base(dir); len(h) != 16 || h == "unknown" {
		t.Fatalf("Dir() = %s, want a folder named by a 16-hex source hash", dir)
	}
	t.Logf("shared key store: %s", dir)
	if Dir() != dir {
		t.Fatal("Dir() is not stable")
	}
}
