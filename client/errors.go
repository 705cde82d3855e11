package client

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"strings"

	"github.com/proofmill/proofmill/errcode"
)

// callError is a call's status with its errcode: errcode.Of finds the
// code, and status.FromError the status as the server sent it.
type callError struct {
	st   *status.Status
	code error // an *errcode.Error wrapping the status error
}

func (e *callError) Error() string              { return e.code.Error() }
func (e *callError) Unwrap() error              { return e.code }
func (e *callError) GRPCStatus() *status.Status { return e.st }

// coded gives a call's error its errcode: the reason the server put in the
// status's ErrorInfo, else what the gRPC status means by itself (an answer
// from gRPC rather than from proofmill, such as a message over the size
// limit or a server that cannot be reached).
func coded(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	code := errcode.ForStatus(errcode.Status(st.Code()))
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errcode.Domain && errcode.Code(info.GetReason()).Known() {
			code = errcode.Code(info.GetReason())
		}
	}
	if code == errcode.TooLarge && strings.Contains(st.Message(), "received message larger than max") {
		// gRPC's own refusal, before any handler: say what it means.
		st = status.New(st.Code(), "the request is larger than the server accepts ("+st.Message()+
			"); input_json may be at most the server's --max-input, 4 MiB by default")
		err = st.Err()
	}
	return &callError{st: st, code: errcode.E("", code, err)}
}

// Message is an error's text for a person: a call's status description
// without gRPC's "rpc error: code = … desc =" prefix, else err.Error().
func Message(err error) string {
	if err == nil {
		return ""
	}
	if st, ok := status.FromError(err); ok && st != nil {
		return st.Message()
	}
	return err.Error()
}
