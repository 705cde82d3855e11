package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/client"
)

func defaultServer() string { return envOr("PROOFMILL_SERVER", "127.0.0.1:7420") }

// remote is how a client command reaches a server.
type remote struct {
	addr       string
	tls        client.TLSFiles
	useTLS     bool
	token      string
	serviceKey string
}

// remoteFlags adds --server and its credentials to a client command;
// addr is --server's default.
func remoteFlags(fs *flag.FlagSet, addr string) *remote {
	r := &remote{}
	fs.StringVar(&r.addr, "server", addr, "proofmill server `address`")
	fs.BoolVar(&r.useTLS, "tls", os.Getenv("PROOFMILL_TLS") != "", "connect with TLS, trusting the system's CAs unless --tls-ca ($PROOFMILL_TLS)")
	fs.StringVar(&r.tls.CAFile, "tls-ca", os.Getenv("PROOFMILL_TLS_CA"), "PEM `file` of the CA that signed the server's certificate; implies --tls ($PROOFMILL_TLS_CA)")
	fs.StringVar(&r.tls.CertFile, "tls-cert", os.Getenv("PROOFMILL_TLS_CERT"), "PEM client certificate `file` for mTLS; implies --tls ($PROOFMILL_TLS_CERT)")
	fs.StringVar(&r.tls.KeyFile, "tls-key", os.Getenv("PROOFMILL_TLS_KEY"), "PEM `file` of the client certificate's key ($PROOFMILL_TLS_KEY)")
	fs.StringVar(&r.tls.ServerName, "tls-server-name", "", "`name` to check in the server's certificate (default: the host dialed)")
	fs.StringVar(&r.token, "token", os.Getenv("PROOFMILL_TOKEN"), "API `token` of your tenant ($PROOFMILL_TOKEN)")
	fs.StringVar(&r.serviceKey, "service-key", os.Getenv("PROOFMILL_SERVICE_KEY"), "`file` with the key receipts must be signed with (hex or PEM); default: the key the server states ($PROOFMILL_SERVICE_KEY)")
	return r
}

func (r *remote) dial() (*client.Client, error) {
	opt := client.Options{Token: r.token}
	if r.useTLS || r.tls.CAFile != "" || r.tls.CertFile != "" {
		cfg, err := r.tls.Config()
		if err != nil {
			return nil, err
		}
		opt.TLS = cfg
	}
	if r.serviceKey != "" {
		data, err := os.ReadFile(r.serviceKey)
		if err != nil {
			return nil, err
		}
		if opt.ServiceKey, err = receipt.ParsePublicKey(data); err != nil {
			return nil, err
		}
	}
	return client.Dial(r.addr, opt)
}

// checkReceipt verifies a succeeded job's signed receipt.
func checkReceipt(ctx context.Context, e *env, c *client.Client, j *pb.Job) error {
	if j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		return nil
	}
	if err := c.VerifyReceipt(ctx, j); err != nil {
		return err
	}
	e.log.Info("receipt verified", "job", j.GetId(), "key", j.GetReceipt().GetKeyId())
	return nil
}

func printJob(e *env, j *pb.Job) error {
	clean := proto.Clone(j).(*pb.Job)
	clean.ProofJson = nil // written with --out
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(clean)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, string(data))
	return err
}

// jobResult turns a finished job into the command's outcome: its proof is
// written to out, a failure becomes an error naming why.
func jobResult(e *env, j *pb.Job, out string) error {
	switch j.GetState() {
	case pb.JobState_JOB_STATE_SUCCEEDED:
		return writeOutput(e, out, func(w io.Writer) error {
			var v any
			if err := json.Unmarshal(j.GetProofJson(), &v); err != nil {
				return err
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		})
	case pb.JobState_JOB_STATE_FAILED:
		return fmt.Errorf("job %s failed (%s): %s", j.GetId(), j.GetErrorKind(), j.GetError())
	case pb.JobState_JOB_STATE_CANCELLED:
		return fmt.Errorf("job %s was cancelled", j.GetId())
	}
	return fmt.Errorf("job %s is %s", j.GetId(), j.GetState())
}

func submitRequest(fs *flag.FlagSet) func() (*pb.SubmitProofRequest, error) {
	id := fs.String("circuit", "", "circuit `id`")
	in := fs.String("input", "", "JSON input `file` (- for stdin)")
	priority := fs.String("priority", "interactive", "interactive or batch")
	deadline := fs.Duration("deadline", 0, "latest start, from now; 0 means none")
	key := fs.String("key", "", "idempotency `key` (default: derived from the circuit and inputs)")
	return func() (*pb.SubmitProofRequest, error) {
		if _, err := lookup(*id); err != nil {
			return nil, err
		}
		if *in == "" {
			return nil, fmt.Errorf("%w: --input is required", errUsage)
		}
		data, err := readInput(*in)
		if err != nil {
			return nil, err
		}
		req := &pb.SubmitProofRequest{Circuit: *id, InputJson: string(data), IdempotencyKey: *key}
		switch *priority {
		case "interactive":
			req.Priority = pb.Priority_PRIORITY_INTERACTIVE
		case "batch":
			req.Priority = pb.Priority_PRIORITY_BATCH
		default:
			return nil, fmt.Errorf("%w: --priority %q: want interactive or batch", errUsage, *priority)
		}
		if *deadline > 0 {
			req.Deadline = timestamppb.New(time.Now().Add(*deadline))
		}
		return req, nil
	}
}

func runSubmit(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "submit")
	server := remoteFlags(fs, defaultServer())
	request := submitRequest(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	req, err := request()
	if err != nil {
		return err
	}
	c, err := server.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	j, _, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	if err := checkReceipt(ctx, e, c, j); err != nil {
		return err
	}
	return printJob(e, j)
}

// jobCommand makes status, cancel and wait: one call on a job by id, then
// show prints the outcome.
func jobCommand(name string, call func(*client.Client, context.Context, string) (*pb.Job, error),
	show func(e *env, j *pb.Job, out string) error) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs, _ := flags(e, name)
		server := remoteFlags(fs, defaultServer())
		id := fs.String("id", "", "job `id`")
		out := fs.String("out", "-", "proof `file` (wait)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *id == "" {
			return fmt.Errorf("%w: --id is required", errUsage)
		}
		c, err := server.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		j, err := call(c, ctx, *id)
		if err != nil {
			return err
		}
		if err := checkReceipt(ctx, e, c, j); err != nil {
			return err
		}
		return show(e, j, *out)
	}
}

func printJobTo(e *env, j *pb.Job, _ string) error { return printJob(e, j) }

var (
	runStatus = jobCommand("status", (*client.Client).Get, printJobTo)
	runCancel = jobCommand("cancel", (*client.Client).Cancel, printJobTo)
	runWait   = jobCommand("wait", (*client.Client).Wait, jobResult)
)

// proveRemote is `prove --server`: the service proves instead of this process.
func proveRemote(ctx context.Context, e *env, server *remote, req *pb.SubmitProofRequest, out string) error {
	c, err := server.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	j, err := c.Prove(ctx, req)
	if err != nil {
		return err
	}
	if err := checkReceipt(ctx, e, c, j); err != nil {
		return err
	}
	e.log.Info("proved by the server", "job", j.GetId(), "backend", j.GetBackend(), "attempts", j.GetAttempts())
	return jobResult(e, j, out)
}
