package client

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/errcode"
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// Retries is how many times a call failing with UNAVAILABLE is retried;
	// 0 means 8, negative none. Retries stop earlier when the call's context ends.
	Retries int
	// Backoff is the first wait between retries, doubled each time up to
	// 2 s; 0 means 100 ms.
	Backoff time.Duration
	// TLS secures the connection, and presents a client certificate if it
	// holds one (mTLS). Nil: plaintext, which servers accept on loopback
	// only.
	TLS *tls.Config
	// Token is sent as "authorization: Bearer TOKEN" with every call. It
	// needs TLS, unless the server is on a loopback address.
	Token string
	// ServiceKey pins the key receipts must be signed with. Nil: the first
	// VerifyReceipt fetches it from the server (trust on first use).
	ServiceKey ed25519.PublicKey
	// DialOptions are added to the connection's options.
	DialOptions []grpc.DialOption
}

// Client talks to one proofmill server.
type Client struct {
	conn *grpc.ClientConn
	rpc  pb.ProverClient
	opt  Options

	keyMu    sync.Mutex
	key      ed25519.PublicKey // receipts' key, once known
	inputKey *publishedKey     // the input key to seal to, once fetched and checked
}

// publishedKey is an input key as the server published it to this
// client's tenant.
type publishedKey struct {
	key    *sealed.PublicKey
	tenant string
}

// Dial connects to target ("host:port").
func Dial(target string, opt Options) (*Client, error) {
	if opt.Retries == 0 {
		opt.Retries = 8
	}
	if opt.Backoff == 0 {
		opt.Backoff = 100 * time.Millisecond
	}
	transport := insecure.NewCredentials()
	if opt.TLS != nil {
		transport = credentials.NewTLS(opt.TLS)
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
	}
	if opt.Token != "" {
		if opt.TLS == nil && !IsLoopback(target) {
			return nil, fmt.Errorf("client: dial %s: a token is sent only over TLS, or to a loopback address", target)
		}
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{token: opt.Token, tls: opt.TLS != nil}))
	}
	conn, err := grpc.NewClient(target, append(dial, opt.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", target, err)
	}
	return &Client{conn: conn, rpc: pb.NewProverClient(conn), opt: opt, key: opt.ServiceKey}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// retry runs call until it succeeds, fails with another code than
// UNAVAILABLE, runs out of retries, or ctx ends. Its error carries an
// errcode (see coded).
func retry[T any](ctx context.Context, c *Client, call func(context.Context) (T, error)) (T, error) {
	wait := c.opt.Backoff
	for attempt := 0; ; attempt++ {
		out, err := call(ctx)
		if status.Code(err) != codes.Unavailable || attempt >= c.opt.Retries {
			return out, coded(err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return out, coded(err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Submit queues a proof. created is false when the server already had the
// job (same idempotency key, or same circuit and inputs).
func (c *Client) Submit(ctx context.Context, req *pb.SubmitProofRequest) (job *pb.Job, created bool, err error) {
	resp, err := retry(ctx, c, func(ctx context.Context) (*pb.SubmitProofResponse, error) { return c.rpc.SubmitProof(ctx, req) })
	if err != nil {
		return nil, false, err
	}
	return resp.GetJob(), resp.GetCreated(), nil
}

// Get returns a job.
func (c *Client) Get(ctx context.Context, id string) (*pb.Job, error) {
	return retry(ctx, c, func(ctx context.Context) (*pb.Job, error) { return c.rpc.GetJob(ctx, &pb.GetJobRequest{Id: id}) })
}

// Cancel cancels a queued or running job (see proofmill cancel --help for
// what that does to a running proof).
func (c *Client) Cancel(ctx context.Context, id string) (*pb.Job, error) {
	return retry(ctx, c, func(ctx context.Context) (*pb.Job, error) { return c.rpc.CancelJob(ctx, &pb.CancelJobRequest{Id: id}) })
}

// Watch calls fn with each new state of a job until it is terminal, fn
// returns an error, or ctx ends. A broken stream is reopened.
func (c *Client) Watch(ctx context.Context, id string, fn func(*pb.Job) error) error {
	_, err := retry(ctx, c, func(ctx context.Context) (struct{}, error) {
		stream, err := c.rpc.WatchJob(ctx, &pb.WatchJobRequest{Id: id})
		if err != nil {
			return struct{}{}, err
		}
		for {
			j, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return struct{}{}, nil
			}
			if err != nil {
				return struct{}{}, err
			}
			if err := fn(j); err != nil {
				return struct{}{}, err
			}
		}
	})
	return err
}

// Terminal reports whether a job state is final.
func Terminal(s pb.JobState) bool {
	return s == pb.JobState_JOB_STATE_SUCCEEDED || s == pb.JobState_JOB_STATE_FAILED || s == pb.JobState_JOB_STATE_CANCELLED
}

// Wait returns a job once it is terminal, or ctx's error.
func (c *Client) Wait(ctx context.Context, id string) (*pb.Job, error) {
	return c.WaitSeeing(ctx, id, nil)
}

// WaitSeeing is Wait, calling seen (when set) with every change the watch
// sends: the job's state, and its stage while it runs.
func (c *Client) WaitSeeing(ctx context.Context, id string, seen func(*pb.Job)) (*pb.Job, error) {
	var last *pb.Job
	err := c.Watch(ctx, id, func(j *pb.Job) error {
		last = j
		if seen != nil {
			seen(j)
		}
		return nil
	})
	if err != nil {
		return last, err
	}
	if last == nil || !Terminal(last.GetState()) {
		return last, fmt.Errorf("client: watch of %s ended before the job finished", id)
	}
	return last, nil
}

// Prove submits and waits. A job that ends failed or cancelled is returned
// with a nil error: its Error and ErrorKind say why.
func (c *Client) Prove(ctx context.Context, req *pb.SubmitProofRequest) (*pb.Job, error) {
	return c.ProveSeeing(ctx, req, nil)
}

// ProveSeeing is Prove, calling seen (when set) as WaitSeeing does.
func (c *Client) ProveSeeing(ctx context.Context, req *pb.SubmitProofRequest, seen func(*pb.Job)) (*pb.Job, error) {
	j, _, err := c.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	if Terminal(j.GetState()) {
		return j, nil
	}
	if seen != nil {
		seen(j)
	}
	return c.WaitSeeing(ctx, j.GetId(), seen)
}

// Verify checks a proof file on the server.
func (c *Client) Verify(ctx context.Context, proofJSON []byte, circuit string) (*pb.VerifyProofResponse, error) {
	return retry(ctx, c, func(ctx context.Context) (*pb.VerifyProofResponse, error) {
		return c.rpc.VerifyProof(ctx, &pb.VerifyProofRequest{ProofJson: proofJSON, Circuit: circuit})
	})
}

// VerifyingKey fetches a circuit's verifying key in a format.
func (c *Client) VerifyingKey(ctx context.Context, circuit string, format pb.KeyFormat) (*pb.GetVerifyingKeyResponse, error) {
	return retry(ctx, c, func(ctx context.Context) (*pb.GetVerifyingKeyResponse, error) {
		return c.rpc.GetVerifyingKey(ctx, &pb.GetVerifyingKeyRequest{Circuit: circuit, Format: format})
	})
}

// Circuits lists the server's circuits.
func (c *Client) Circuits(ctx context.Context) ([]*pb.Circuit, error) {
	resp, err := retry(ctx, c, func(ctx context.Context) (*pb.ListCircuitsResponse, error) {
		return c.rpc.ListCircuits(ctx, &pb.ListCircuitsRequest{})
	})
	return resp.GetCircuits(), err
}

// Devices lists the server's proving devices.
func (c *Client) Devices(ctx context.Context) ([]*pb.Device, error) {
	resp, err := retry(ctx, c, func(ctx context.Context) (*pb.ListDevicesResponse, error) {
		return c.rpc.ListDevices(ctx, &pb.ListDevicesRequest{})
	})
	return resp.GetDevices(), err
}

// Usage reads proving usage from since (a UTC day as 2026-11-01; "": every
// day kept), of tenant ("": the caller's own, or every tenant's for an
// operator).
func (c *Client) Usage(ctx context.Context, since, tenant string) ([]*pb.UsageRecord, error) {
	resp, err := retry(ctx, c, func(ctx context.Context) (*pb.GetUsageResponse, error) {
		return c.rpc.GetUsage(ctx, &pb.GetUsageRequest{Since: since, Tenant: tenant})
	})
	return resp.GetRecords(), err
}

// ServiceKey fetches the key the server signs receipts with.
func (c *Client) ServiceKey(ctx context.Context) (ed25519.PublicKey, error) {
	resp, err := retry(ctx, c, func(ctx context.Context) (*pb.GetServiceKeyResponse, error) {
		return c.rpc.GetServiceKey(ctx, &pb.GetServiceKeyRequest{})
	})
	if err != nil {
		return nil, err
	}
	key := ed25519.PublicKey(resp.GetEd25519PublicKey())
	if len(key) != ed25519.PublicKeySize || receipt.KeyID(key) != resp.GetKeyId() {
		return nil, fmt.Errorf("client: the server's receipt key is malformed (%d bytes, id %q)", len(key), resp.GetKeyId())
	}
	return key, nil
}

// serviceKey is Options.ServiceKey, or else the key the server states
// (fetched once).
func (c *Client) serviceKey(ctx context.Context) (ed25519.PublicKey, error) {
	c.keyMu.Lock()
	key := c.key
	c.keyMu.Unlock()
	if key != nil {
		return key, nil
	}
	key, err := c.ServiceKey(ctx)
	if err != nil {
		return nil, err
	}
	c.keyMu.Lock()
	c.key = key
	c.keyMu.Unlock()
	return key, nil
}

// VerifyReceipt checks a succeeded job's receipt under Options.ServiceKey,
// or else the key the server states (fetched once). Errors match
// receipt.ErrMissing or receipt.ErrInvalid.
func (c *Client) VerifyReceipt(ctx context.Context, j *pb.Job) error {
	key, err := c.serviceKey(ctx)
	if err != nil {
		return fmt.Errorf("client: receipt of %s: %w", j.GetId(), err)
	}
	return receipt.Verify(j, key)
}

// InputKey fetches the input key this client's tenant seals inputs to, and
// checks it as receipts are checked: signed by Options.ServiceKey, or else
// by the key the server states, in the suite Seal uses, its id its own. It
// is fetched once per Client. Errors match sealed.ErrStatement when the
// key does not check.
func (c *Client) InputKey(ctx context.Context) (*sealed.PublicKey, error) {
	p, err := c.publishedInputKey(ctx)
	if err != nil {
		return nil, err
	}
	return p.key, nil
}

func (c *Client) publishedInputKey(ctx context.Context) (*publishedKey, error) {
	c.keyMu.Lock()
	p := c.inputKey
	c.keyMu.Unlock()
	if p != nil {
		return p, nil
	}
	resp, err := retry(ctx, c, func(ctx context.Context) (*pb.GetInputKeyResponse, error) {
		return c.rpc.GetInputKey(ctx, &pb.GetInputKeyRequest{})
	})
	if err != nil {
		return nil, err
	}
	signer, err := c.serviceKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: input key: %w", err)
	}
	key, err := sealed.VerifyKeyStatement(resp.GetKeyId(), resp.GetSuite(), resp.GetPublicKey(), resp.GetTenant(), resp.GetSignature(), signer)
	if err != nil {
		return nil, fmt.Errorf("client: input key (signed by key %s; receipts' key is %s): %w", resp.GetSigningKeyId(), receipt.KeyID(signer), err)
	}
	p = &publishedKey{key: key, tenant: resp.GetTenant()}
	c.keyMu.Lock()
	c.inputKey = p
	c.keyMu.Unlock()
	return p, nil
}

// Seal seals inputJSON (the circuit's JSON input, as input_json would carry
// it) end to end to the input key (see InputKey), for the tenant the server
// stated and circuit: set it as SubmitProofRequest.SealedInput instead of
// InputJson. Each call makes other bytes, and a job is keyed by the bytes
// it was sent: a retry of a submission must resend the same SealedInput.
func (c *Client) Seal(ctx context.Context, circuit string, inputJSON []byte) (*pb.SealedInput, error) {
	p, err := c.publishedInputKey(ctx)
	if err != nil {
		return nil, err
	}
	data, err := sealed.Seal(p.key, p.tenant, circuit, inputJSON)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &pb.SealedInput{KeyId: p.key.ID(), Ciphertext: data}, nil
}

// JobError is a finished job's failure as an error: nil for a job that
// succeeded, else an error whose errcode is the job's error kind
// (errcode.Cancelled for a cancelled job), naming why.
func JobError(j *pb.Job) error {
	switch j.GetState() {
	case pb.JobState_JOB_STATE_SUCCEEDED:
		return nil
	case pb.JobState_JOB_STATE_FAILED:
		return errcode.Errorf(errcode.Code(j.GetErrorKind()), "job %s failed (%s): %s", j.GetId(), j.GetErrorKind(), j.GetError())
	case pb.JobState_JOB_STATE_CANCELLED:
		return errcode.Errorf(errcode.Cancelled, "job %s was cancelled", j.GetId())
	}
	return fmt.Errorf("client: job %s is %s, not finished", j.GetId(), j.GetState())
}
