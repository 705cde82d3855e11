package receipt

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
)

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

func signedJob(t *testing.T, s *Signer) *pb.Job {
	t.Helper()
	j := &pb.Job{Id: "j-1", Circuit: "invoice-consistency/v1", State: pb.JobState_JOB_STATE_SUCCEEDED, Backend: "cpu",
		VerifyingKeySha256: "ab12", ProofJson: []byte(`{"proof":1}`),
		PublicInputs: []*pb.PublicInput{{Name: "a", Value: "1"}, {Name: "b", Value: "22"}}}
	r, err := s.Sign(JobStatement(j), signedAt)
	if err != nil {
		t.Fatal(err)
	}
	j.Receipt = r
	return j
}

var signedAt = time.Date(2026, 3, 10, 9, 0, 0, 123, time.UTC)

// TestPayloadIsDocumented: the README spells out the signed bytes, so a
// client in any language can check a receipt; this is that example.
func TestPayloadIsDocumented(t *testing.T) {
	s := NewSigner(testKey(t), "v1.2.3")
	j := signedJob(t, s)
	f := statementFields(JobStatement(j), j.Receipt)
	got, err := f.payload()
	if err != nil {
		t.Fatal(err)
	}
	want := "proofmill receipt v2\njob: j-1\ntenant: \ncircuit: invoice-consistency/v1\nverifying_key_sha256: ab12\n" +
		"public_inputs_sha256: " + PublicInputsHash(j.PublicInputs) + "\nproof_sha256: " + ProofHash(j.ProofJson) +
		"\nbackend: cpu\nsigned_at: 2026-03-10T09:00:00.000000123Z\nproofmill_version: v1.2.3\n"
	if string(got) != want {
		t.Fatalf("payload:\n%s\nwant:\n%s", got, want)
	}
}

func TestSignVerify(t *testing.T) {
	s := NewSigner(testKey(t), "v1.2.3")
	j := signedJob(t, s)
	if err := Verify(j, s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	again, err := s.Sign(JobStatement(j), signedAt)
	if err != nil || !proto.Equal(again, j.Receipt) {
		t.Fatal("signing twice gave another receipt")
	}
}

// TestVerifyRejectsChanges changes one covered thing at a time.
func TestVerifyRejectsChanges(t *testing.T) {
	s := NewSigner(testKey(t), "v1.2.3")
	for _, tc := range []struct {
		name string
		edit func(j *pb.Job)
	}{
		{"job id", func(j *pb.Job) { j.Id = "j-2" }},
		{"circuit", func(j *pb.Job) { j.Circuit = "abs-pool-16/v1" }},
		{"verifying key", func(j *pb.Job) { j.VerifyingKeySha256 = "ab13" }},
		{"backend", func(j *pb.Job) { j.Backend = "cuda:0" }},
		{"proof", func(j *pb.Job) { j.ProofJson[3] ^= 1 }},
		{"public input value", func(j *pb.Job) { j.PublicInputs[1].Value = "23" }},
		{"public input name", func(j *pb.Job) { j.PublicInputs[0].Name = "c" }},
		{"public inputs reordered", func(j *pb.Job) { j.PublicInputs[0], j.PublicInputs[1] = j.PublicInputs[1], j.PublicInputs[0] }},
		{"public input dropped", func(j *pb.Job) { j.PublicInputs = j.PublicInputs[:1] }},
		{"version", func(j *pb.Job) { j.Receipt.ProofmillVersion = "v9" }},
		{"stated proof hash", func(j *pb.Job) { j.Receipt.ProofSha256 = ProofHash([]byte("other")) }},
		{"key id", func(j *pb.Job) { j.Receipt.KeyId = "0000000000000000" }},
		{"tenant", func(j *pb.Job) { j.Receipt.Tenant = "bank-b" }},
		{"signing time", func(j *pb.Job) { j.Receipt.SignedAt = "2026-03-10T09:00:01Z" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := signedJob(t, s)
			tc.edit(j)
			if err := Verify(j, s.PublicKey()); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestEveryFlippedSignatureBitFails flips each of the signature's 512 bits.
func TestEveryFlippedSignatureBitFails(t *testing.T) {
	s := NewSigner(testKey(t), "v1")
	j := signedJob(t, s)
	for bit := range 8 * len(j.Receipt.Signature) {
		bad := proto.Clone(j).(*pb.Job)
		bad.Receipt.Signature[bit/8] ^= 1 << (bit % 8)
		if err := Verify(bad, s.PublicKey()); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bit %d flipped: err = %v", bit, err)
		}
	}
}

func TestVerifyOtherKeyAndMissing(t *testing.T) {
	s := NewSigner(testKey(t), "v1")
	j := signedJob(t, s)
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 1
	other := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if err := Verify(j, other); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another key: %v", err)
	}
	// Same key id (forged), other key: the signature still fails.
	forged := proto.Clone(j).(*pb.Job)
	forged.Receipt.KeyId = KeyID(other)
	if err := Verify(forged, other); !errors.Is(err, ErrInvalid) {
		t.Fatalf("forged key id: %v", err)
	}
	if err := Verify(j, other[:5]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short key: %v", err)
	}
	j.Receipt = nil
	if err := Verify(j, s.PublicKey()); !errors.Is(err, ErrMissing) {
		t.Fatalf("no receipt: %v", err)
	}
}

func TestSignRefusesAmbiguousFields(t *testing.T) {
	s := NewSigner(testKey(t), "v1")
	for _, st := range []Statement{
		{Job: "j\nbackend: gpu", Circuit: "c", VerifyingKey: "k", Backend: "cpu"},
		{Job: "j", Circuit: "c", VerifyingKey: "k"}, // no backend
		{Job: "j", Tenant: "a\nb", Circuit: "c", VerifyingKey: "k", Backend: "cpu"},
	} {
		if _, err := s.Sign(st, signedAt); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v", st.Job, err)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "receipt.key")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("reloaded another key (created %v, %v)", created, err)
	}
	os.WriteFile(path, []byte("junk"), 0o600)
	if _, _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("junk accepted as a key")
	}
}

func TestParsePublicKey(t *testing.T) {
	pub := testKey(t).Public().(ed25519.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{
		[]byte(hex.EncodeToString(pub) + "\n"),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, in := range []string{"", "abcd", hex.EncodeToString(make([]byte, 31))} {
		if _, err := ParsePublicKey([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// SignMessage signs other statements with the service key, and refuses
// one that would read as a receipt.
func TestSignMessage(t *testing.T) {
	s := NewSigner(testKey(t), "test")
	msg := []byte("proofmill input key v1\nkey_id: ik1-00\n")
	sig := s.SignMessage(msg)
	if !ed25519.Verify(s.PublicKey(), msg, sig) {
		t.Fatal("the signature does not verify under the service key")
	}
	if ed25519.Verify(s.PublicKey(), []byte("proofmill input key v1\nkey_id: ik1-01\n"), sig) {
		t.Fatal("the signature verifies over another message")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a message starting as a receipt was signed")
		}
	}()
	s.SignMessage([]byte(header + "\njob: j-1\n"))
}
