package embedded_test

import (
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/scheduler/embedded"
)

// What checking costs at open and on demand, for a journal of 10^4 jobs
// (half finished with a proof): go test ./scheduler/embedded -run '^$'
// -bench Journal10k -benchtime 5x
func BenchmarkJournal10k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "jobs.db")
	s, err := embedded.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		if _, _, err := s.Create(ctx, testJob(i)); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.Run("Open", func(b *testing.B) { // bbolt's check, every record's checksum, the counts
		for b.Loop() {
			s, err := embedded.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("Check", func(b *testing.B) {
		s, err := embedded.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for b.Loop() {
			if r, err := s.Check(ctx); err != nil || r.Err() != nil || r.Checked != 10_000 {
				b.Fatalf("%v %v", r, err)
			}
		}
	})
	b.Run("Inspect", func(b *testing.B) { // proofmill journal check
		for b.Loop() {
			if r, err := embedded.Inspect(path, embedded.Options{}); err != nil || r.Err() != nil {
				b.Fatalf("%v %v", r, err)
			}
		}
	})
}
