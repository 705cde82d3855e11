package client

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/errcode"
)

// flaky answers UNAVAILABLE to the first calls, like a draining or
// restarting server, then serves.
type flaky struct {
	pb.UnimplementedProverServer
	failures int
}

func (f *flaky) GetJob(_ context.Context, req *pb.GetJobRequest) (*pb.Job, error) {
	if f.failures > 0 {
		f.failures--
		return nil, status.Error(codes.Unavailable, "draining")
	}
	return &pb.Job{Id: req.GetId(), State: pb.JobState_JOB_STATE_SUCCEEDED}, nil
}

func (f *flaky) CancelJob(context.Context, *pb.CancelJobRequest) (*pb.Job, error) {
	return nil, status.Error(codes.FailedPrecondition, "not queued")
}

func serve(t *testing.T, srv pb.ProverServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterProverServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

func TestRetriesUnavailable(t *testing.T) {
	c, err := Dial(serve(t, &flaky{failures: 3}), Options{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := c.Get(ctx, "j1")
	if err != nil || j.GetId() != "j1" {
		t.Fatalf("got %v, %v", j, err)
	}
	// Other codes are not retried.
	if _, err := c.Cancel(ctx, "j1"); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("cancel: %v", err)
	}
}

// A call whose context ends while it waits to retry stops then: with an
// hour's backoff ahead and a million retries left, returning at all shows
// it (no timing is judged; the minute only bounds a hang).
func TestGivesUpWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	endAfterCall := grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoke(ctx, method, req, reply, cc, opts...)
		calls.Add(1)
		cancel() // the answer (UNAVAILABLE) is in; the backoff starts with the context ended
		return err
	})
	c, err := Dial(serve(t, &flaky{failures: 1 << 30}), Options{Retries: 1 << 20, Backoff: time.Hour, DialOptions: []grpc.DialOption{endAfterCall}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { _, err := c.Get(ctx, "j1"); done <- err }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("still waiting out its backoff after its context ended")
	}
	if code := status.Code(err); code != codes.Unavailable {
		t.Fatalf("got %v, want the last answer, UNAVAILABLE", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestRetriesUntilTheServerStarts(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	c, err := Dial(addr, Options{Backoff: 20 * time.Millisecond, Retries: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		time.Sleep(200 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		g := grpc.NewServer()
		pb.RegisterProverServer(g, &flaky{})
		t.Cleanup(g.Stop)
		g.Serve(l)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Get(ctx, "j1"); err != nil {
		t.Fatalf("no answer once the server started: %v", err)
	}
}

// Every error a call returns carries an errcode: the server's reason, or
// what the bare status means; it stays a status all the same.
func TestErrorsCarryCodes(t *testing.T) {
	c, err := Dial(serve(t, &flaky{}), Options{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Cancel(ctx, "j1") // a bare FAILED_PRECONDITION
	if errcode.Of(err) != errcode.Unsatisfied || status.Code(err) != codes.FailedPrecondition || status.Convert(err).Message() != "not queued" {
		t.Fatalf("bare status: %q, %v", errcode.Of(err), err)
	}
	withReason, _ := status.New(codes.FailedPrecondition, "job is not queued").WithDetails(&errdetails.ErrorInfo{Reason: string(errcode.NotQueued), Domain: errcode.Domain})
	foreign, _ := status.New(codes.FailedPrecondition, "x").WithDetails(&errdetails.ErrorInfo{Reason: "not_queued", Domain: "example.com"})
	for _, tc := range []struct {
		err  error
		want errcode.Code
	}{
		{withReason.Err(), errcode.NotQueued},
		{foreign.Err(), errcode.Unsatisfied}, // another domain's reason means nothing here
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max"), errcode.TooLarge},
		{status.Error(codes.Unavailable, "connection refused"), errcode.Unavailable},
		{errors.New("not a status"), errcode.Internal},
	} {
		if got := errcode.Of(coded(tc.err)); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}
