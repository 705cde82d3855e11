package abspool

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkAdmitParts splits admission's native work on the example pool
// (12 assets, padded to the capacity) into JSON decoding, Poseidon2
// hashing (leaves and the Merkle tree), the rules, and building the
// witness; "all" is the whole (Assign, then the binary witness).
//
//	go test ./circuits/abspool -run '^$' -bench AdmitParts
func BenchmarkAdmitParts(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	for _, capacity := range []int{16, 1024} {
		s, err := Parse(capacity, data)
		if err != nil {
			b.Fatal(err)
		}
		d := s.Derive()
		assign := Assigner(capacity)
		b.Run(fmt.Sprintf("capacity-%d/decode", capacity), func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(capacity, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("capacity-%d/hash", capacity), func(b *testing.B) {
			for b.Loop() {
				s.Derive()
			}
		})
		b.Run(fmt.Sprintf("capacity-%d/rules", capacity), func(b *testing.B) {
			for b.Loop() {
				if err := s.check(d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("capacity-%d/witness", capacity), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.assignment(d).Binary(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("capacity-%d/all", capacity), func(b *testing.B) {
			for b.Loop() {
				a, err := assign(data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.Binary(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
