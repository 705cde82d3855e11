package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"
)

// A batch checks every proof's points itself, as gnark's verifier does,
// rather than trusting that the parser did.
func TestBatchChecksPoints(t *testing.T) {
	keyData, err := os.ReadFile("testdata/invoice-consistency-v1.vk")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(keyData)
	k, err := LoadVerifyingKey("invoice-consistency/v1", keyData, hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("testdata/invoice-proof.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(p *Proof)
		want   error
	}{
		{"as parsed", func(*Proof) {}, nil},
		{"A off the curve", func(p *Proof) { p.proof.Ar.Y.Double(&p.proof.Ar.Y) }, ErrRejected},
		{"C off the curve", func(p *Proof) { p.proof.Krs.X.Double(&p.proof.Krs.X) }, ErrRejected},
		{"B off the curve", func(p *Proof) { p.proof.Bs.Y.Double(&p.proof.Bs.Y) }, ErrRejected},
		{"a missing input", func(p *Proof) { p.public = p.public[1:] }, ErrBadProofFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := k.Decode(file)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(p)
			err = k.checkProof(p)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("checkProof: got %v, want %v", err, tc.want)
			}
			if err := k.VerifyProofs(p, p); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("VerifyProofs: got %v, want %v", err, tc.want)
			}
		})
	}
}
