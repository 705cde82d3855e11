package vault_test

import (
	"context"
	"crypto/rand"
	"testing"
)

// BenchmarkEncrypt and BenchmarkDecrypt are the per-job cost of inputs at
// rest on an invoice's witness (about 2 KB): a job key, two AES-256-GCM
// seals (or opens), the data key cached.
//
//	go test ./vault -run '^$' -bench . -benchmem
func BenchmarkEncrypt(b *testing.B) {
	v := open(b, ring(b), newClock(), master(b))
	witness := make([]byte, 2048)
	rand.Read(witness)
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Encrypt(ctx, "bank-a", "job", witness); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	v := open(b, ring(b), newClock(), master(b))
	witness := make([]byte, 2048)
	rand.Read(witness)
	ctx := context.Background()
	c, err := v.Encrypt(ctx, "bank-a", "job", witness)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := v.Decrypt(ctx, "bank-a", "job", c); err != nil {
			b.Fatal(err)
		}
	}
}
