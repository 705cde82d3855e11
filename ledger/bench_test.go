package ledger_test

import (
	"fmt"
	"testing"

	"github.com/proofmill/proofmill/ledger"
)

// BenchmarkVerify compares one-by-one verification (gnark's verifier, a
// proof at a time) with VerifyProofs' single pairing check, over the same
// decoded proofs (JSON parsing is outside both): distinct real proofs,
// reused cyclically for the larger batches.
//
//	go test ./ledger/ -run '^$' -bench BenchmarkVerify -benchtime 3x -count 2
func BenchmarkVerify(b *testing.B) {
	files, served := invoiceProofs(b)
	key := loadKey(b, invoiceID, served)
	decoded := make([]*ledger.Proof, len(files))
	for i, f := range files {
		p, err := key.Decode(f)
		if err != nil {
			b.Fatal(err)
		}
		decoded[i] = p
	}
	for _, n := range []int{8, 64, 512} {
		batch := make([]*ledger.Proof, n)
		for i := range batch {
			batch[i] = decoded[i%len(decoded)]
		}
		b.Run(fmt.Sprintf("n=%d/one-by-one", n), func(b *testing.B) {
			for b.Loop() {
				for _, p := range batch {
					if err := key.VerifyProof(p); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/batch", n), func(b *testing.B) {
			for b.Loop() {
				if err := key.VerifyProofs(batch...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
