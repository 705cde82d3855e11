package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/tenants"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestErrorTable(t *testing.T) {
	cases := []struct {
		err    error
		code   codes.Code
		reason errcode.Code
	}{
		{fmt.Errorf("x: %w", input.ErrOutOfRange), codes.InvalidArgument, errcode.InvalidInput},
		{&input.FieldError{Field: "a", Kind: input.ErrMissingField}, codes.InvalidArgument, errcode.InvalidInput},
		{input.Rule("quantity", "differs"), codes.FailedPrecondition, errcode.Unsatisfied},
		{fmt.Errorf("%w %q", circuits.ErrUnknownCircuit, "x"), codes.NotFound, errcode.UnknownCircuit},
		{scheduler.ErrNotFound, codes.NotFound, errcode.JobNotFound},
		{scheduler.ErrNotQueued, codes.FailedPrecondition, errcode.NotQueued},
		{scheduler.ErrQueueFull, codes.ResourceExhausted, errcode.QueueFull},
		{scheduler.ErrDraining, codes.Unavailable, errcode.Draining},
		{scheduler.ErrPastDeadline, codes.InvalidArgument, errcode.BadRequest},
		{prover.ErrDevelopmentKeys, codes.FailedPrecondition, errcode.DevelopmentKeys},
		{context.DeadlineExceeded, codes.DeadlineExceeded, errcode.DeadlineExceeded},
		{prover.ErrBadProofFile, codes.InvalidArgument, errcode.BadProofFile},
		{errors.New("disk on fire"), codes.Internal, errcode.Internal},
	}
	for _, c := range cases {
		err := toStatus(quiet, "M", c.err)
		s := status.Convert(err)
		if s.Code() != c.code || reason(err) != string(c.reason) {
			t.Errorf("%v: %v (%s), want %v (%s)", c.err, s.Code(), reason(err), c.code, c.reason)
		}
		if c.code == codes.Internal && s.Message() == c.err.Error() {
			t.Errorf("internal error details leaked to the client: %q", s.Message())
		}
	}
	if kept := status.Error(codes.Aborted, "kept"); toStatus(quiet, "M", kept) != kept {
		t.Error("a status was remapped")
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

// fakeScheduler records what the handlers ask of it and answers from a
// map of jobs; submitErr, when set, is every submission's answer.
type fakeScheduler struct {
	mu        sync.Mutex
	jobs      map[string]*scheduler.Job
	requests  []scheduler.Request
	submitErr error
	cancelled []string
	notary    Notary // signs what WaitChange makes succeed
}

func (f *fakeScheduler) Submit(_ context.Context, r scheduler.Request) (*scheduler.Job, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if f.submitErr != nil {
		return nil, false, f.submitErr
	}
	j := &scheduler.Job{ID: fmt.Sprintf("job-%d", len(f.requests)), Tenant: r.Tenant, Circuit: r.Circuit, State: scheduler.Queued, Version: 1, Submitted: time.Unix(1e9, 0)}
	f.jobs[j.ID] = j
	return j, true, nil
}

func (f *fakeScheduler) Get(_ context.Context, id string) (*scheduler.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[id]; ok {
		c := *j
		return &c, nil
	}
	return nil, fmt.Errorf("get %s: %w", id, scheduler.ErrNotFound)
}

func (f *fakeScheduler) Cancel(ctx context.Context, id string) (*scheduler.Job, error) {
	f.mu.Lock()
	f.cancelled = append(f.cancelled, id)
	f.mu.Unlock()
	return f.Get(ctx, id)
}

// WaitChange walks a job through queued → running → succeeded, one
// version at a time.
func (f *fakeScheduler) WaitChange(ctx context.Context, id string, version uint64) (*scheduler.Job, error) {
	j, err := f.Get(ctx, id)
	if err != nil || j.Version > version {
		return j, err
	}
	f.mu.Lock()
	stored := f.jobs[id]
	stored.Version++
	switch stored.Version {
	case 2:
		stored.State = scheduler.Running
	default:
		stored.State, stored.Result = scheduler.Succeeded, []byte(`{"proof": "fake"}`)
		stored.PublicInputs, stored.VerifyingKey, stored.Backend = []scheduler.PublicInput{{Name: "n", Value: "7"}}, "vk-digest", "cpu"
		var err error
		if stored.Receipt, err = f.notary.Sign(stored); err != nil {
			panic(err)
		}
	}
	c := *stored
	f.mu.Unlock()
	return &c, nil
}

func (f *fakeScheduler) Wait(ctx context.Context, id string) (*scheduler.Job, error) {
	var version uint64
	for {
		j, err := f.WaitChange(ctx, id, version)
		if err != nil || j.State.Terminal() {
			return j, err
		}
		version = j.Version
	}
}

// start serves the handlers over fake on loopback, with a tenant table
// (bank-a: rate 1 a second, burst 1, quota 5; bank-b) when asked.
func start(t *testing.T, fake *fakeScheduler, withTenants bool) (*Server, string) {
	t.Helper()
	return startWith(t, fake, withTenants, nil)
}

// startWith is start, with the handlers' config as edit changes it.
func startWith(t *testing.T, fake *fakeScheduler, withTenants bool, edit func(*Config)) (*Server, string) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	cfg := Config{MaxInputBytes: 1024, Logger: quiet, Receipts: receipt.NewSigner(key, "test"),
		Devices: func() []*pb.Device { return []*pb.Device{{Id: "cpu", Slots: 2}} }}
	if edit != nil {
		edit(&cfg)
	}
	opts := Interceptors(quiet, 64<<10)
	if withTenants {
		table, err := tenants.New([]*tenants.Tenant{
			{ID: "bank-a", TokensSHA256: []string{tenants.Digest("a")}, SubmitsPerSecond: 1, Burst: 1, MaxQueued: 5},
			{ID: "bank-b", TokensSHA256: []string{tenants.Digest("b")}},
			{ID: "ops", TokensSHA256: []string{tenants.Digest("ops")}, Operator: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Tenants = table
		opts = append(opts, Authenticate(table)...)
	}
	fake.notary = Notary{Signer: cfg.Receipts}
	srv := New(fake, nil, cfg)
	g := grpc.NewServer(opts...)
	pb.RegisterProverServer(g, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return srv, lis.Addr().String()
}

func dial(t *testing.T, addr, token string) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, client.Options{Token: token, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newFake() *fakeScheduler { return &fakeScheduler{jobs: map[string]*scheduler.Job{}} }

// Requests are checked before the scheduler hears of them; each refusal
// has its code and reason and names the field.
func TestSubmitValidates(t *testing.T) {
	fake := newFake()
	_, addr := start(t, fake, false)
	c := dial(t, addr, "")
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		req     *pb.SubmitProofRequest
		code    errcode.Code
		mention string
	}{
		{"no circuit", &pb.SubmitProofRequest{InputJson: "{}"}, errcode.BadRequest, "circuit: required"},
		{"no input", &pb.SubmitProofRequest{Circuit: "c"}, errcode.BadRequest, "input_json: required"},
		{"input over the limit", &pb.SubmitProofRequest{Circuit: "c", InputJson: strings.Repeat(" ", 1025)}, errcode.InvalidInput, "input_json: input too large"},
		{"unknown priority", &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}", Priority: 9}, errcode.BadRequest, "priority"},
		{"deadline out of range", &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}", Deadline: &timestamppb.Timestamp{Seconds: -1 << 40}}, errcode.BadRequest, "deadline"},
	} {
		_, _, err := c.Submit(ctx, tc.req)
		if errcode.Of(err) != tc.code || status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: %s %v; want %s naming %q", tc.name, errcode.Of(err), err, tc.code, tc.mention)
		}
	}
	if len(fake.requests) != 0 {
		t.Fatalf("the scheduler saw %d invalid requests", len(fake.requests))
	}
	// The scheduler's own refusals keep their codes.
	fake.submitErr = fmt.Errorf("scheduler: %w: 3 jobs waiting", scheduler.ErrQueueFull)
	if _, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}", Priority: pb.Priority_PRIORITY_BATCH}); errcode.Of(err) != errcode.QueueFull || status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("queue full: %v", err)
	}
	if r := fake.requests[0]; r.Priority != scheduler.Batch || r.Tenant != "" || string(r.Input) != "{}" {
		t.Fatalf("request %+v", r)
	}
}

// Tenants: calls run as the caller's tenant, whose quota goes with the
// request; another tenant's job reads as missing; the rate limit refuses
// before the scheduler is asked.
func TestTenantsOwnTheirJobs(t *testing.T) {
	fake := newFake()
	_, addr := start(t, fake, true)
	ctx := t.Context()
	if _, err := dial(t, addr, "").Circuits(ctx); errcode.Of(err) != errcode.Unauthenticated {
		t.Fatalf("no credentials: %v", err)
	}
	a, b := dial(t, addr, "a"), dial(t, addr, "b")
	j, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if r := fake.requests[0]; r.Tenant != "bank-a" || r.TenantMaxQueued != 5 {
		t.Fatalf("request %+v", r)
	}
	if _, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}"}); errcode.Of(err) != errcode.RateLimited || !strings.Contains(err.Error(), "bank-a") {
		t.Fatalf("bank-a's second submission within its burst of 1: %v", err)
	}
	if len(fake.requests) != 1 {
		t.Fatal("a rate-limited request reached the scheduler")
	}
	_, foreign := b.Get(ctx, j.GetId())
	_, missing := b.Get(ctx, "job-99")
	if errcode.Of(foreign) != errcode.JobNotFound || strings.ReplaceAll(status.Convert(foreign).Message(), j.GetId(), "ID") != strings.ReplaceAll(status.Convert(missing).Message(), "job-99", "ID") {
		t.Fatalf("another tenant's job %q; a missing one %q", foreign, missing)
	}
	if _, err := b.Cancel(ctx, j.GetId()); errcode.Of(err) != errcode.JobNotFound || len(fake.cancelled) != 0 {
		t.Fatalf("bank-b cancelled bank-a's job: %v", err)
	}
	if got, err := a.Get(ctx, j.GetId()); err != nil || got.GetState() != pb.JobState_JOB_STATE_QUEUED {
		t.Fatalf("the owner's read: %v %v", got, err)
	}
}

// A job stored before jobs kept their public inputs shows them, read from
// its proof file.
func TestLegacySucceededJob(t *testing.T) {
	fake := newFake()
	proof, _ := json.Marshal(prover.ProofFile{Circuit: "c", VerifyingKeySHA256: "vk", PublicInputs: []prover.NamedValue{{Name: "n", Value: "7"}}})
	fake.jobs["old"] = &scheduler.Job{ID: "old", Circuit: "c", State: scheduler.Succeeded, Result: proof, Backend: "cpu", Version: 3}
	_, addr := start(t, fake, false)
	var err error
	if fake.jobs["old"].Receipt, err = fake.notary.Sign(fake.jobs["old"]); err != nil {
		t.Fatal(err)
	}
	j, err := dial(t, addr, "").Get(t.Context(), "old")
	if err != nil || len(j.GetPublicInputs()) != 1 || j.GetPublicInputs()[0].GetValue() != "7" || j.GetVerifyingKeySha256() != "vk" {
		t.Fatalf("legacy job: %v %v", j, err)
	}
}

// The server's log names a refusal's code and reason, never its message:
// that holds the caller's own document values.
func TestLogsKeepMessagesOut(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	err := toStatus(log, "M", input.Rule("quantity", "bill of lading quantity 1100 differs from invoice quantity 1200"))
	logCall(context.Background(), log, "/proofmill.v1.Prover/SubmitProof", time.Now(), err)
	if !strings.Contains(logs.String(), "reason=unsatisfied") || strings.Contains(logs.String(), "1100") {
		t.Fatalf("log: %s", logs.String())
	}
}

// A watch streams every change until the job ends; the finished job's
// view comes from its stored fields (its proof file here is not one), with
// a receipt that verifies under the server's key.
func TestWatchAndJobView(t *testing.T) {
	fake := newFake()
	srv, addr := start(t, fake, false)
	c := dial(t, addr, "")
	ctx := t.Context()
	j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []pb.JobState
	if err := c.Watch(ctx, j.GetId(), func(j *pb.Job) error { seen = append(seen, j.GetState()); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []pb.JobState{pb.JobState_JOB_STATE_QUEUED, pb.JobState_JOB_STATE_RUNNING, pb.JobState_JOB_STATE_SUCCEEDED}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("watched %v, want %v", seen, want)
	}
	done, err := c.Get(ctx, j.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if len(done.GetPublicInputs()) != 1 || done.GetPublicInputs()[0].GetValue() != "7" || done.GetVerifyingKeySha256() != "vk-digest" || done.GetBackend() != "cpu" {
		t.Fatalf("view %v", done)
	}
	if err := receipt.Verify(done, srv.cfg.Receipts.PublicKey()); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	if err := c.VerifyReceipt(ctx, done); err != nil {
		t.Fatalf("the client's receipt check: %v", err)
	}
	proved, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}"})
	if err != nil || proved.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("Prove: %v %v", proved, err)
	}
	if d, err := c.Devices(ctx); err != nil || len(d) != 1 || d[0].GetSlots() != 2 {
		t.Fatalf("devices: %v %v", d, err)
	}
}

// A succeeded job is served only with a receipt, made where it was
// verified, that still vouches for what storage holds: a changed proof, a
// result copied from another job, a receipt under another key, or none,
// is DATA_LOSS on every read, never a success.
func TestStoredResultMustMatchItsReceipt(t *testing.T) {
	fake := newFake()
	_, addr := start(t, fake, false)
	c := dial(t, addr, "")
	ctx := t.Context()
	var ids []string
	for range 2 {
		j, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: "c", InputJson: "{}"})
		if err != nil || c.VerifyReceipt(ctx, j) != nil {
			t.Fatalf("prove: %v %v", j, err)
		}
		ids = append(ids, j.GetId())
	}
	other := Notary{Signer: receipt.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)), "test")}
	for _, tc := range []struct {
		name string
		edit func(x, y *scheduler.Job)
	}{
		{"one digit of the proof", func(x, _ *scheduler.Job) { x.Result = bytes.Replace(x.Result, []byte("fake"), []byte("fakf"), 1) }},
		{"a public input", func(x, _ *scheduler.Job) { x.PublicInputs = []scheduler.PublicInput{{Name: "n", Value: "8"}} }},
		{"another job's result and receipt", func(x, y *scheduler.Job) {
			x.Result, x.PublicInputs, x.Receipt = y.Result, y.PublicInputs, y.Receipt
		}},
		{"another job's receipt", func(x, y *scheduler.Job) { x.Receipt = y.Receipt }},
		{"another job's whole record", func(x, y *scheduler.Job) { *x = *y }},
		{"no receipt", func(x, _ *scheduler.Job) { x.Receipt = nil }},
		{"the signer's stated version", func(x, _ *scheduler.Job) { x.Receipt.Version = "test2" }},
		{"a receipt under another key", func(x, _ *scheduler.Job) {
			var err error
			if x.Receipt, err = other.Sign(x); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.mu.Lock()
			x, y := fake.jobs[ids[0]], fake.jobs[ids[1]]
			saved := *x
			cx, cy := *x, *y
			if cx.Receipt != nil {
				r := *cx.Receipt
				cx.Receipt = &r
			}
			tc.edit(&cx, &cy)
			fake.jobs[ids[0]] = &cx
			fake.mu.Unlock()
			defer func() { fake.mu.Lock(); fake.jobs[ids[0]] = &saved; fake.mu.Unlock() }()
			_, err := c.Get(ctx, ids[0])
			if status.Code(err) != codes.DataLoss || errcode.Of(err) != errcode.CorruptRecord {
				t.Fatalf("GetJob of a changed record: %v; want DATA_LOSS", err)
			}
			werr := c.Watch(ctx, ids[0], func(*pb.Job) error { return nil })
			if status.Code(werr) != codes.DataLoss {
				t.Fatalf("WatchJob of a changed record: %v; want DATA_LOSS", werr)
			}
		})
	}
	if j, err := c.Get(ctx, ids[0]); err != nil || c.VerifyReceipt(ctx, j) != nil {
		t.Fatalf("the untouched job: %v %v", j, err)
	}
}
