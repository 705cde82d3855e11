package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
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
