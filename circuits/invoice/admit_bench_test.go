package invoice

import (
	"os"
	"testing"
)

// BenchmarkAdmitParts splits admission's native work on an invoice into
// JSON decoding, Poseidon2 hashing (commitments and nullifiers), the
// rules, and building the witness gnark proves from; "all" is the whole
// (Assign, then the binary witness the job stores).
//
//	go test ./circuits/invoice -run '^$' -bench AdmitParts
func BenchmarkAdmitParts(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	d := s.Derive()
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		for b.Loop() {
			s.Derive()
		}
	})
	b.Run("rules", func(b *testing.B) {
		for b.Loop() {
			if err := s.check(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("witness", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.assignment(d).Binary(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			a, err := Assign(data)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := a.Binary(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
