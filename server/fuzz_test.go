package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/sealed"
)

// FuzzSubmitRequest runs the submission validator on arbitrary fields: no
// panic, oversize inputs refused, and every refusal an INVALID_ARGUMENT.
//
//	go test ./server -run '^$' -fuzz FuzzSubmitRequest -fuzztime 30s
func FuzzSubmitRequest(f *testing.F) {
	f.Add("invoice-consistency/v1", `{"a":1}`, int32(1), int64(1767225600), int32(0), "key-1")
	f.Add("", "", int32(7), int64(-62135596801), int32(-1), "")
	f.Add("x", strings.Repeat("a", 2048), int32(2), int64(253402300800), int32(1e9), "k\x00")
	s := New(nil, nil, Config{MaxInputBytes: 1024, Logger: quiet})
	f.Fuzz(func(t *testing.T, circuit, in string, priority int32, seconds int64, nanos int32, key string) {
		req := &pb.SubmitProofRequest{Circuit: circuit, InputJson: in, Priority: pb.Priority(priority),
			Deadline: &timestamppb.Timestamp{Seconds: seconds, Nanos: nanos}, IdempotencyKey: key}
		r, err := s.request(t.Context(), req)
		if err != nil {
			if code := status.Code(toStatus(quiet, "SubmitProof", err)); code != codes.InvalidArgument {
				t.Fatalf("refused with %v: %v", code, err)
			}
			return
		}
		if len(r.Input) > 1024 || len(r.Input) == 0 || r.Circuit == "" {
			t.Fatalf("accepted %d bytes of input for circuit %q", len(r.Input), r.Circuit)
		}
	})
}

// FuzzSealedSubmit runs the validator on arbitrary sealed inputs: no
// panic; what passes names the published key and fits the limit; every
// refusal is an INVALID_ARGUMENT naming the field.
//
//	go test ./server -run '^$' -fuzz FuzzSealedSubmit -fuzztime 30s
func FuzzSealedSubmit(f *testing.F) {
	k, err := sealed.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	published := k.Public().ID()
	f.Add("invoice-consistency/v1", published, []byte("ciphertext"), "")
	f.Add("invoice-consistency/v1", "ik1-0000", []byte{}, `{"a":1}`)
	f.Add("x", strings.Repeat("k", 100), make([]byte, 4096), "")
	const limit = 1024
	s := New(nil, nil, Config{MaxInputBytes: limit, Logger: quiet, InputKeys: tenantKeys{"": k.Public()}})
	f.Fuzz(func(t *testing.T, circuit, keyID string, ciphertext []byte, in string) {
		req := &pb.SubmitProofRequest{Circuit: circuit, InputJson: in, SealedInput: &pb.SealedInput{KeyId: keyID, Ciphertext: ciphertext}}
		r, err := s.request(t.Context(), req)
		if err != nil {
			if code := status.Code(toStatus(quiet, "SubmitProof", err)); code != codes.InvalidArgument {
				t.Fatalf("refused with %v: %v", code, err)
			}
			return
		}
		if r.Sealed == nil || r.Sealed.KeyID != published || len(r.Sealed.Data) == 0 || len(r.Sealed.Data) > limit+sealed.Overhead || len(r.Input) > 0 {
			t.Fatalf("accepted key %q, %d bytes, %d bytes of plain input", keyID, len(ciphertext), len(r.Input))
		}
	})
}
