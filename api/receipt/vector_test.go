package receipt_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/examples"
)

// vector is examples/receipt-v2.json: a receipt, the job it vouches for,
// and the exact bytes signed, for implementations in other languages.
type vector struct {
	SeedHex      string `json:"seed_hex"`
	PublicKeyHex string `json:"public_key_hex"`
	Job          struct {
		ID           string            `json:"id"`
		Circuit      string            `json:"circuit"`
		VerifyingKey string            `json:"verifying_key_sha256"`
		Backend      string            `json:"backend"`
		PublicInputs []*pb.PublicInput `json:"public_inputs"`
		ProofJSON    string            `json:"proof_json"`
	} `json:"job"`
	Receipt struct {
		KeyID              string `json:"key_id"`
		Version            string `json:"proofmill_version"`
		Tenant             string `json:"tenant"`
		SignedAt           string `json:"signed_at"`
		PublicInputsSHA256 string `json:"public_inputs_sha256"`
		ProofSHA256        string `json:"proof_sha256"`
		SignatureHex       string `json:"signature_hex"`
	} `json:"receipt"`
	SignedMessage string `json:"signed_message"`
}

func readVector(t *testing.T) (vector, *pb.Job, ed25519.PublicKey) {
	t.Helper()
	data, err := examples.Read("receipt-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	pub, err := hex.DecodeString(v.PublicKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := hex.DecodeString(v.Receipt.SignatureHex)
	if err != nil {
		t.Fatal(err)
	}
	j := &pb.Job{Id: v.Job.ID, Circuit: v.Job.Circuit, State: pb.JobState_JOB_STATE_SUCCEEDED, Backend: v.Job.Backend,
		VerifyingKeySha256: v.Job.VerifyingKey, PublicInputs: v.Job.PublicInputs, ProofJson: []byte(v.Job.ProofJSON),
		Receipt: &pb.Receipt{KeyId: v.Receipt.KeyID, ProofmillVersion: v.Receipt.Version, Tenant: v.Receipt.Tenant,
			SignedAt: v.Receipt.SignedAt, PublicInputsSha256: v.Receipt.PublicInputsSHA256, ProofSha256: v.Receipt.ProofSHA256,
			Signature: sig}}
	return v, j, pub
}

// The vector verifies, its message is the one this package signs, and the
// message is the README's text rebuilt from the fields by hand.
func TestReceiptVector(t *testing.T) {
	v, j, pub := readVector(t)
	if err := receipt.Verify(j, pub); err != nil {
		t.Fatalf("the vector does not verify: %v", err)
	}
	if got := receipt.PublicInputsHash(j.GetPublicInputs()); got != v.Receipt.PublicInputsSHA256 {
		t.Fatalf("public_inputs_sha256 %s, the vector says %s", got, v.Receipt.PublicInputsSHA256)
	}
	if got := receipt.ProofHash(j.GetProofJson()); got != v.Receipt.ProofSHA256 {
		t.Fatalf("proof_sha256 %s, the vector says %s", got, v.Receipt.ProofSHA256)
	}
	var msg strings.Builder
	msg.WriteString("proofmill receipt v2\n")
	for _, kv := range [][2]string{{"job", v.Job.ID}, {"tenant", v.Receipt.Tenant}, {"circuit", v.Job.Circuit},
		{"verifying_key_sha256", v.Job.VerifyingKey}, {"public_inputs_sha256", v.Receipt.PublicInputsSHA256},
		{"proof_sha256", v.Receipt.ProofSHA256}, {"backend", v.Job.Backend}, {"signed_at", v.Receipt.SignedAt},
		{"proofmill_version", v.Receipt.Version}} {
		msg.WriteString(kv[0] + ": " + kv[1] + "\n")
	}
	if msg.String() != v.SignedMessage {
		t.Fatalf("the README's layout gives\n%q\nthe vector signs\n%q", msg.String(), v.SignedMessage)
	}
	if !ed25519.Verify(pub, []byte(v.SignedMessage), j.GetReceipt().GetSignature()) {
		t.Fatal("the signature is not over signed_message")
	}
	// Ed25519 is deterministic: the seed signs the same bytes again.
	seed, err := hex.DecodeString(v.SeedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("seed: %v", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if !key.Public().(ed25519.PublicKey).Equal(pub) || receipt.KeyID(pub) != v.Receipt.KeyID {
		t.Fatal("the seed, public key and key id disagree")
	}
	if hex.EncodeToString(ed25519.Sign(key, []byte(v.SignedMessage))) != v.Receipt.SignatureHex {
		t.Fatal("signing signed_message with the seed gives another signature")
	}
}

// Any field of the vector's job changed fails it.
func TestReceiptVectorRejectsChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*pb.Job)
	}{
		{"job", func(j *pb.Job) { j.Id += "0" }},
		{"tenant", func(j *pb.Job) { j.Receipt.Tenant = "bank-b" }},
		{"circuit", func(j *pb.Job) { j.Circuit = "abs-pool-16/v1" }},
		{"key", func(j *pb.Job) { j.VerifyingKeySha256 = strings.Repeat("0", 64) }},
		{"public input", func(j *pb.Job) { j.PublicInputs[0].Value = "8" }},
		{"proof", func(j *pb.Job) { j.ProofJson = append(j.ProofJson, ' ') }},
		{"backend", func(j *pb.Job) { j.Backend = "cuda:0" }},
		{"signed_at", func(j *pb.Job) { j.Receipt.SignedAt = "2026-12-02T12:00:01Z" }},
		{"version", func(j *pb.Job) { j.Receipt.ProofmillVersion = "v0.15.1" }},
		{"signature", func(j *pb.Job) { j.Receipt.Signature[0] ^= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, j, pub := readVector(t)
			tc.change(j)
			if err := receipt.Verify(j, pub); err == nil {
				t.Fatal("verified")
			}
		})
	}
}
