package embedded

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/scheduler"
)

// openTemp opens a new journal in the test's folder, closed with the test.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// createAll stores new jobs, failing the test on any error.
func createAll(t *testing.T, s *Store, jobs ...*scheduler.Job) {
	t.Helper()
	for _, j := range jobs {
		if _, _, err := s.Create(context.Background(), j); err != nil {
			t.Fatal(j.ID, err)
		}
	}
}
