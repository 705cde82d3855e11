package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

var (
	// errBadRequest marks a request that is malformed before any input is read.
	errBadRequest = errors.New("bad request")
	// errNoReceipts: this server was started without a receipt key.
	errNoReceipts = errors.New("this server signs no receipts")
)

// errorCodes maps every error kind a handler can meet to its status code.
// The first match wins; anything else is INTERNAL.
var errorCodes = []struct {
	kind error
	code codes.Code
}{
	{errBadRequest, codes.InvalidArgument},
	{input.ErrMalformed, codes.InvalidArgument},
	{input.ErrTooLarge, codes.InvalidArgument},
	{input.ErrUnknownField, codes.InvalidArgument},
	{input.ErrMissingField, codes.InvalidArgument},
	{input.ErrInvalidValue, codes.InvalidArgument},
	{input.ErrOutOfRange, codes.InvalidArgument},
	{scheduler.ErrInvalidKey, codes.InvalidArgument},
	{scheduler.ErrBadPriority, codes.InvalidArgument},
	{scheduler.ErrPastDeadline, codes.InvalidArgument}, // the request's field, not this call's time
	{prover.ErrBadProofFile, codes.InvalidArgument},
	{circuits.ErrUnknownCircuit, codes.NotFound},
	{scheduler.ErrNotFound, codes.NotFound},
	{input.ErrUnsatisfied, codes.FailedPrecondition},
	{scheduler.ErrNotQueued, codes.FailedPrecondition},
	{prover.ErrNoKeys, codes.FailedPrecondition},
	{errNoReceipts, codes.FailedPrecondition},
	{scheduler.ErrQueueFull, codes.ResourceExhausted},
	{scheduler.ErrTenantQuota, codes.ResourceExhausted},
	{errRateLimited, codes.ResourceExhausted},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
	{scheduler.ErrDraining, codes.Unavailable},
	{scheduler.ErrUnavailable, codes.Unavailable}, // Redis is down: clients retry
}

// toStatus turns a handler error into a status a client can act on.
func toStatus(log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.kind) {
			return status.Error(e.code, err.Error())
		}
	}
	log.Error("internal error", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error; see the server log")
}
