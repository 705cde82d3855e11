package server

import (
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofmill/proofmill/errcode"
)

// toStatus turns a handler error into a status a client can act on: the
// code's gRPC status from errcode's table, the message, and the code itself
// as the ErrorInfo reason. Internal errors are logged, and their message
// stays in the log.
func toStatus(log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := errcode.Of(err)
	e := code.Entry()
	msg := err.Error()
	if e.Status == errcode.StatusInternal {
		log.Error("internal error", "method", method, "code", code, "err", err)
		msg = "internal error; see the server log"
	}
	st := status.New(codes.Code(e.Status), msg)
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: string(code), Domain: errcode.Domain}); err == nil {
		st = withInfo
	}
	return st.Err()
}
