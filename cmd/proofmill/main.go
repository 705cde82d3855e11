// Command proofmill proves and verifies proofmill's trade-finance statements.
//
//	proofmill circuits                                   list circuits
//	proofmill keys setup  --circuit ID | --all           development keys
//	proofmill keys export --circuit ID --format F        solidity | json | gnark
//	proofmill prove  --circuit ID --input FILE [--out FILE]
//	proofmill verify [--circuit ID] --proof FILE
//	proofmill serve  [--listen ADDR] [--data DIR] [--workers N] [--redis ADDR]
//	proofmill worker --redis ADDR [--concurrency N] [--device cuda:N]
//	proofmill devices [--json]
//	proofmill batch submit|status|collect|run --redis ADDR --in FILE.jsonl
//	proofmill submit|wait|status|cancel --server ADDR ...
//
// Keys live in --keys DIR (default $PROOFMILL_KEYS, else the user cache dir).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	gnarklog "github.com/consensys/gnark/logger"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
)

// Exit codes, one per kind of failure.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitBadInput    = 3
	exitUnsatisfied = 4
	exitUnknown     = 5
	exitNoKeys      = 6
	exitBusy        = 7 // the server is full, draining, unreachable or out of time
)

var errUsage = errors.New("usage")

var exitCodes = []struct {
	kind error
	code int
}{
	{errUsage, exitUsage},
	{input.ErrMalformed, exitBadInput},
	{input.ErrTooLarge, exitBadInput},
	{input.ErrUnknownField, exitBadInput},
	{input.ErrMissingField, exitBadInput},
	{input.ErrInvalidValue, exitBadInput},
	{input.ErrOutOfRange, exitBadInput},
	{prover.ErrBadProofFile, exitBadInput},
	{input.ErrUnsatisfied, exitUnsatisfied},
	{prover.ErrProofRejected, exitUnsatisfied},
	{receipt.ErrInvalid, exitUnsatisfied},
	{receipt.ErrMissing, exitUnsatisfied},
	{circuits.ErrUnknownCircuit, exitUnknown},
	{prover.ErrNoKeys, exitNoKeys},
}

// statusExitCodes maps a server's answer to the same exit codes.
var statusExitCodes = map[codes.Code]int{
	codes.InvalidArgument:    exitBadInput,
	codes.FailedPrecondition: exitUnsatisfied,
	codes.NotFound:           exitUnknown,
	codes.ResourceExhausted:  exitBusy,
	codes.Unavailable:        exitBusy,
	codes.DeadlineExceeded:   exitBusy,
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if s, ok := status.FromError(err); ok {
		if code, ok := statusExitCodes[s.Code()]; ok {
			return code
		}
		return exitFailure
	}
	for _, e := range exitCodes {
		if errors.Is(err, e.kind) {
			return e.code
		}
	}
	return exitFailure
}

type command struct {
	name, summary string
	run           func(ctx context.Context, env *env, args []string) error
}

var commands = []command{
	{"circuits", "list the circuits, their sizes and public inputs", runCircuits},
	{"keys", "keys setup | export | ceremony | import: development keys, exports, MPC ceremonies", runKeys},
	{"prove", "prove a JSON input (locally, or on a server with --server) and write the proof", runProve},
	{"verify", "verify a proof file against the key store", runVerify},
	{"serve", "run the proving service: gRPC API, scheduler, journal and CPU workers", runServe},
	{"worker", "prove jobs from a Redis queue shared with servers on other machines", runWorker},
	{"devices", "list the proving devices (CPU, GPUs) this binary can use here", runDevices},
	{"batch", "batch submit | status | collect | run: prove a JSONL file of requests through Redis", runBatch},
	{"submit", "queue a proof on a server and print the job", runSubmit},
	{"wait", "wait for a job on a server and write its proof", runWait},
	{"status", "print a job on a server", runStatus},
	{"cancel", "cancel a queued job on a server", runCancel},
	{"tenants", "tenants token | tenants check: API tokens and the tenant table", runTenants},
	{"audit", "audit verify: check the audit log's hash chain", runAudit},
	{"bench", "measure proving, the service against raw gnark, MSM/NTT and the scheduler; write a report", runBench},
}

// env is what commands share: where output goes and how to log.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("PROOFMILL_GNARK_LOG") == "" {
		gnarklog.Disable() // gnark's own debug lines; our slog says what matters
	}
	e := &env{stdout: os.Stdout, stderr: os.Stderr, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	os.Exit(run(ctx, e, os.Args[1:]))
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if err != nil && !errors.Is(err, errHelp) {
				fmt.Fprintf(e.stderr, "proofmill %s: %v\n", c.name, err)
			}
			if errors.Is(err, errHelp) {
				return exitOK
			}
			return exitCode(err)
		}
	}
	fmt.Fprintf(e.stderr, "proofmill: unknown command %q\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: proofmill <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'proofmill <command> -h' for a command's flags.")
}
