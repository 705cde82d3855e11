package newfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/internal/newfile"
)

func TestWriteNeverReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets", "key")
	if err := newfile.Write(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := newfile.Write(path, []byte("second"), 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	data, _ := os.ReadFile(path)
	info, _ := os.Stat(path)
	dir, _ := os.Stat(filepath.Dir(path))
	if string(data) != "first" || info.Mode().Perm() != 0o600 || dir.Mode().Perm() != 0o700 {
		t.Fatalf("file %q mode %v, folder mode %v", data, info.Mode().Perm(), dir.Mode().Perm())
	}
}
