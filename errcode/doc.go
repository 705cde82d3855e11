// Package errcode is proofmill's one error vocabulary. Every error the
// system returns carries one Code, found with Of: either because it is (or
// wraps) an *Error made with E, Errorf or New, or because it is one of the
// context package's errors. One table (Table) says, for each code, the
// gRPC status a server answers with, the command line's exit status, and
// whether another attempt may succeed; nothing else maps errors.
//
// Packages keep their own sentinel errors (input.ErrMalformed,
// scheduler.ErrNotFound, ...), made with New so that each carries its code;
// errors.Is still finds them, and errors.As finds their code.
//
// The package imports nothing but the standard library, so that every
// package, circuits included, can use it. gRPC statuses are the numbers of
// the gRPC specification (Status); the server and client turn them into
// google.golang.org/grpc/codes values.
package errcode
