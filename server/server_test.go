package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestErrorTable(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("x: %w", input.ErrOutOfRange), codes.InvalidArgument},
		{&input.FieldError{Field: "a", Kind: input.ErrMissingField}, codes.InvalidArgument},
		{input.Rule("quantity", "differs"), codes.FailedPrecondition},
		{fmt.Errorf("%w %q", circuits.ErrUnknownCircuit, "x"), codes.NotFound},
		{scheduler.ErrNotFound, codes.NotFound},
		{scheduler.ErrQueueFull, codes.ResourceExhausted},
		{scheduler.ErrDraining, codes.Unavailable},
		{scheduler.ErrPastDeadline, codes.InvalidArgument},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{prover.ErrBadProofFile, codes.InvalidArgument},
		{status.Error(codes.Aborted, "kept"), codes.Aborted},
		{errors.New("disk on fire"), codes.Internal},
	}
	for _, c := range cases {
		s := status.Convert(toStatus(quiet, "M", c.err))
		if s.Code() != c.code {
			t.Errorf("%v: %v, want %v", c.err, s.Code(), c.code)
		}
		if c.code == codes.Internal && s.Message() == c.err.Error() {
			t.Errorf("internal error details leaked to the client: %q", s.Message())
		}
	}
	if toStatus(quiet, "M", nil) != nil {
		t.Error("nil error became a status")
	}
}

func TestPanicsBecomeInternalErrors(t *testing.T) {
	boom := func(context.Context, any) (any, error) { panic("boom") }
	_, err := recoverUnary(quiet)(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/Y"}, boom)
	if status.Code(err) != codes.Internal {
		t.Fatalf("unary panic: %v", err)
	}
	streamBoom := func(any, grpc.ServerStream) error { panic("boom") }
	err = recoverStream(quiet)(nil, nil, &grpc.StreamServerInfo{FullMethod: "/x/Z"}, streamBoom)
	if status.Code(err) != codes.Internal {
		t.Fatalf("stream panic: %v", err)
	}
}
