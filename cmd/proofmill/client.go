package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/client"
)

// remote is how a client command reaches a server.
type remote struct {
	Server string
	client.Files
}

// add gives a command --server (default addr) and the credentials.
func (r *remote) add(c *cobra.Command, addr string) {
	f := c.Flags()
	f.StringVar(&r.Server, "server", addr, "proofmill server `address` (default for client commands: $PROOFMILL_SERVER, else 127.0.0.1:7420)")
	f.BoolVar(&r.TLS, "tls", os.Getenv("PROOFMILL_TLS") != "", "connect with TLS, trusting the system's CAs unless --tls-ca ($PROOFMILL_TLS)")
	f.StringVar(&r.CAFile, "tls-ca", os.Getenv("PROOFMILL_TLS_CA"), "PEM `file` of the CA that signed the server's certificate; implies --tls ($PROOFMILL_TLS_CA)")
	f.StringVar(&r.CertFile, "tls-cert", os.Getenv("PROOFMILL_TLS_CERT"), "PEM client certificate `file` for mTLS; implies --tls ($PROOFMILL_TLS_CERT)")
	f.StringVar(&r.KeyFile, "tls-key", os.Getenv("PROOFMILL_TLS_KEY"), "PEM `file` of the client certificate's key ($PROOFMILL_TLS_KEY)")
	f.StringVar(&r.ServerName, "tls-server-name", os.Getenv("PROOFMILL_TLS_SERVER_NAME"), "`name` to check in the server's certificate (default: the host dialed) ($PROOFMILL_TLS_SERVER_NAME)")
	f.StringVar(&r.Token, "token", os.Getenv("PROOFMILL_TOKEN"), "API `token` of your tenant ($PROOFMILL_TOKEN)")
	f.StringVar(&r.ServiceKey, "service-key", os.Getenv("PROOFMILL_SERVICE_KEY"), "`file` with the key receipts must be signed with (hex or PEM); default: the key the server states ($PROOFMILL_SERVICE_KEY)")
}

func (r *remote) dial() (*client.Client, error) { return client.DialFiles(r.Server, r.Files) }

// onJob makes one call that answers a job, checks the job's receipt when
// it succeeded, and shows it.
func (r *remote) onJob(cmd *cobra.Command, e *env, call func(context.Context, *client.Client) (*pb.Job, error), show func(*pb.Job) error) error {
	cl, err := r.dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	j, err := call(cmd.Context(), cl)
	if err != nil {
		return err
	}
	if j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED {
		if err := cl.VerifyReceipt(cmd.Context(), j); err != nil {
			return err
		}
		e.log.Info("receipt verified", "job", j.GetId(), "key", j.GetReceipt().GetKeyId())
	}
	return show(j)
}

// requestFlags are a proof request's flags.
type requestFlags struct {
	circuit, input, priority, key string
	deadline                      time.Duration
	seal                          bool
}

func (q *requestFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&q.circuit, "circuit", "", "circuit `id` (see proofmill circuits)")
	f.StringVar(&q.input, "input", "", "JSON input `file` (- for stdin)")
	f.StringVar(&q.priority, "priority", "interactive", "interactive or batch")
	f.DurationVar(&q.deadline, "deadline", 0, "latest start, from now; 0 means none")
	f.StringVar(&q.key, "key", "", "idempotency `key` (default: derived from the circuit and inputs)")
	f.BoolVar(&q.seal, "seal", false, "seal the input end to end to the server's input key (checked against the service key): only a worker holding that key reads it")
}

func (q *requestFlags) request() (*pb.SubmitProofRequest, error) {
	if _, err := lookup(q.circuit); err != nil {
		return nil, err
	} else if q.input == "" {
		return nil, usagef("--input is required")
	}
	data, err := input.ReadDocument(q.input)
	if err != nil {
		return nil, err
	}
	priority, ok := pb.Priority_value["PRIORITY_"+strings.ToUpper(q.priority)]
	if !ok || priority == 0 {
		return nil, usagef("--priority %q: want interactive or batch", q.priority)
	}
	req := &pb.SubmitProofRequest{Circuit: q.circuit, InputJson: string(data), IdempotencyKey: q.key, Priority: pb.Priority(priority)}
	if q.deadline > 0 {
		req.Deadline = timestamppb.New(time.Now().Add(q.deadline))
	}
	return req, nil
}

func submitCmd(e *env) *cobra.Command {
	req, r := &requestFlags{}, &remote{}
	c := &cobra.Command{Use: "submit", Short: "Queue a proof on a server and print the job", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := req.request()
			if err != nil {
				return err
			}
			return r.onJob(cmd, e, func(ctx context.Context, cl *client.Client) (*pb.Job, error) {
				if err := req.sealIfAsked(ctx, cl, pr); err != nil {
					return nil, err
				}
				j, _, err := cl.Submit(ctx, pr)
				return j, err
			}, e.printJob)
		}}
	req.add(c)
	r.add(c, envOr("PROOFMILL_SERVER", "127.0.0.1:7420"))
	return c
}

var jobCalls = map[string]struct {
	short, long string
	call        func(*client.Client, context.Context, string) (*pb.Job, error)
}{
	"wait":   {short: "Wait for a job on a server and write its proof", call: (*client.Client).Wait},
	"status": {short: "Print a job on a server", call: (*client.Client).Get},
	"cancel": {short: "Cancel a queued or running job on a server", call: (*client.Client).Cancel,
		long: `cancel ends a queued or running job as cancelled (error kind cancelled) and prints it. A finished
job is not cancelled (FAILED_PRECONDITION, not_queued).

A running job ends cancelled at once and its proof is never released, even if it comes later. Whether
the work stops depends on where it runs: on a GPU (serve --gpus), or on the CPU of a server or worker
started with --isolate-cpu, the proof's worker process is killed within about a second and its slot
takes the next job. Without --isolate-cpu a CPU proof runs in the server's (or worker's) own process,
where gnark cannot stop it: it runs on to its end, holding its slot, and its result is dropped.`},
}

// jobCmd is wait, status or cancel: one call on a job by id.
func jobCmd(e *env, name string) *cobra.Command {
	var id, out string
	r := &remote{}
	c := &cobra.Command{Use: name, Short: jobCalls[name].short, Long: jobCalls[name].long, Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return usagef("--id is required")
			}
			show, call := e.printJob, jobCalls[name].call
			if name == "wait" {
				show = writeProof(e, out)
				call = func(cl *client.Client, ctx context.Context, id string) (*pb.Job, error) {
					return cl.WaitSeeing(ctx, id, newProgress(e.stderr).seen)
				}
			}
			return r.onJob(cmd, e, func(ctx context.Context, cl *client.Client) (*pb.Job, error) { return call(cl, ctx, id) }, show)
		}}
	c.Flags().StringVar(&id, "id", "", "job `id`")
	if name == "wait" {
		c.Flags().StringVar(&out, "out", "-", "proof `file` (- for stdout)")
	}
	r.add(c, envOr("PROOFMILL_SERVER", "127.0.0.1:7420"))
	return c
}

// proveRemote is `prove --server`: the service proves instead of this process.
func proveRemote(e *env, q *requestFlags, req *pb.SubmitProofRequest) func(context.Context, *client.Client) (*pb.Job, error) {
	return func(ctx context.Context, cl *client.Client) (*pb.Job, error) {
		if err := q.sealIfAsked(ctx, cl, req); err != nil {
			return nil, err
		}
		j, err := cl.ProveSeeing(ctx, req, newProgress(e.stderr).seen)
		if err == nil {
			e.log.Info("proved by the server", "job", j.GetId(), "backend", j.GetBackend(), "attempts", j.GetAttempts())
		}
		return j, err
	}
}

func (e *env) printJob(j *pb.Job) error {
	clean := proto.Clone(j).(*pb.Job)
	clean.ProofJson = nil // written by wait --out
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(clean)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, string(data))
	return err
}

// writeProof writes a succeeded job's proof to out; a failure is an error
// whose code (the job's error kind) sets the exit status.
func writeProof(e *env, out string) func(*pb.Job) error {
	return func(j *pb.Job) error {
		if err := client.JobError(j); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := json.Indent(&b, append(j.GetProofJson(), '\n'), "", "  "); err != nil {
			return err
		}
		return writeOutput(e, out, func(w io.Writer) error { _, err := b.WriteTo(w); return err })
	}
}

// progress prints a watched job's state and stage each time either
// changes, one line each, with the time since the command began.
type progress struct {
	w     io.Writer
	start time.Time
	last  string
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

func (p *progress) seen(j *pb.Job) {
	now := strings.ToLower(strings.TrimPrefix(j.GetState().String(), "JOB_STATE_"))
	if j.GetStage() != pb.JobStage_JOB_STAGE_UNSPECIFIED {
		now += ": " + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(j.GetStage().String(), "JOB_STAGE_")), "_", " ")
	}
	if now == p.last {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "job %s: %s (%s)\n", j.GetId(), now, time.Since(p.start).Round(100*time.Millisecond))
}
