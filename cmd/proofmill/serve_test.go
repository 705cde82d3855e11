package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/testkeys"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startTestNode runs a node in-process on a loopback port.
func startTestNode(t testing.TB, edit func(*serveConfig)) (*node, *client.Client) {
	t.Helper()
	cfg := serveConfig{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), KeysDir: testkeys.Dir(), Workers: 1, MaxQueued: 10_000,
		MaxAttempts: 3, Retention: time.Hour, MaxInputBytes: 1 << 20, ShutdownTimeout: time.Minute, DevSetup: true, Preload: "none",
	}
	if edit != nil {
		edit(&cfg)
	}
	n, err := startNode(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(n.addr.String(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return n, c
}

func readExample(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// invoiceInput is the example invoice with invoice number +n: a distinct statement.
func invoiceInput(t testing.TB, n int) string {
	return strings.Replace(readExample(t, "invoice-consistency.json"), `"number": "20260302117"`, fmt.Sprintf(`"number": "%d"`, 20260302117+n), 1)
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestServiceRoundTrip(t *testing.T) {
	_, c := startTestNode(t, nil)
	ctx := timeout(t, 2*time.Minute)
	for _, tc := range []struct{ circuit, example string }{
		{"invoice-consistency/v1", "invoice-consistency.json"},
		{"abs-pool-16/v1", "abs-pool.json"},
	} {
		t.Run(tc.circuit, func(t *testing.T) {
			j, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: tc.circuit, InputJson: readExample(t, tc.example)})
			if err != nil {
				t.Fatal(err)
			}
			if j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED || j.GetBackend() != "cpu" || len(j.GetPublicInputs()) == 0 {
				t.Fatalf("job: %v", j)
			}
			v, err := c.Verify(ctx, j.GetProofJson(), tc.circuit)
			if err != nil || !v.GetValid() {
				t.Fatalf("verify: %v %v", v, err)
			}
			tampered := strings.Replace(string(j.GetProofJson()), `"1"`, `"2"`, 1)
			if v, err := c.Verify(ctx, []byte(tampered), tc.circuit); err == nil && v.GetValid() {
				t.Fatal("a tampered proof verified")
			}
			key, err := c.VerifyingKey(ctx, tc.circuit, pb.KeyFormat_KEY_FORMAT_SNARKJS)
			if err != nil || !strings.Contains(string(key.GetKey()), `"bn128"`) || key.GetVerifyingKeySha256() != j.GetVerifyingKeySha256() {
				t.Fatalf("verifying key: %v", err)
			}
		})
	}
	circuits, err := c.Circuits(ctx)
	if err != nil || len(circuits) != 5 {
		t.Fatalf("circuits: %d, %v", len(circuits), err)
	}
	devices, err := c.Devices(ctx)
	if err != nil || len(devices) != 1 || devices[0].GetKind() != "cpu" || !devices[0].GetHealthy() {
		t.Fatalf("devices: %v, %v", devices, err)
	}
}

// 200 distinct jobs submitted at once, interactive and batch: all complete
// and every proof verifies.
func TestConcurrentSubmissions(t *testing.T) {
	_, c := startTestNode(t, func(cfg *serveConfig) { cfg.Workers = 2 })
	ctx := timeout(t, 10*time.Minute)
	const jobs = 200
	ids := make([]string, jobs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			priority := pb.Priority_PRIORITY_INTERACTIVE
			if i%2 == 1 {
				priority = pb.Priority_PRIORITY_BATCH
			}
			j, created, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, i), Priority: priority})
			if err != nil || !created {
				t.Errorf("submit %d: created %v, %v", i, created, err)
				return
			}
			ids[i] = j.GetId()
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if id == "" {
			t.Fatalf("job %d was not accepted", i)
		}
		j, err := c.Wait(ctx, id)
		if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %d: %v, %v", i, j, err)
		}
		if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
			t.Fatalf("job %d: proof does not verify: %v %v", i, v, err)
		}
	}
}

// Each kind of bad request has its own code and a message naming the field
// or rule.
func TestBadRequests(t *testing.T) {
	_, c := startTestNode(t, func(cfg *serveConfig) { cfg.MaxInputBytes = 64 << 10 })
	ctx := timeout(t, time.Minute)
	good := readExample(t, "invoice-consistency.json")
	req := func(circuit, input string) *pb.SubmitProofRequest {
		return &pb.SubmitProofRequest{Circuit: circuit, InputJson: input}
	}
	cases := []struct {
		name    string
		req     *pb.SubmitProofRequest
		code    codes.Code
		mention string
	}{
		{"unknown circuit", req("invoice/v9", good), codes.NotFound, `unknown circuit "invoice/v9"`},
		{"no circuit", req("", good), codes.InvalidArgument, "circuit: required"},
		{"no input", req("invoice-consistency/v1", ""), codes.InvalidArgument, "input_json: required"},
		{"malformed JSON", req("invoice-consistency/v1", `{"invoice": [`), codes.InvalidArgument, "malformed JSON"},
		{"unknown field", req("invoice-consistency/v1", strings.Replace(good, `"buyer"`, `"byer"`, 1)), codes.InvalidArgument, "byer: unknown field"},
		{"out of range", req("invoice-consistency/v1", strings.Replace(good, `"currency": 840,`, `"currency": 65536,`, 1)), codes.InvalidArgument, "invoice.currency: out of range"},
		{"wrap-around", req("invoice-consistency/v1", strings.Replace(good, `"amount": "2820000"`, `"amount": "21888242871839275222246405745257275088548364400416034343698204186575808495616"`, 1)), codes.InvalidArgument, "invoice.amount: out of range"},
		{"unsatisfied", req("invoice-consistency/v1", strings.Replace(good, `"importer": "7740021"`, `"importer": "7740022"`, 1)), codes.FailedPrecondition, "rule buyer: customs declaration importer 7740022 differs from invoice buyer 7740021"},
		{"input too large", req("invoice-consistency/v1", good+strings.Repeat(" ", 64<<10)), codes.InvalidArgument, "input too large"},
		{"message too large", req("invoice-consistency/v1", strings.Repeat(" ", 1<<20)), codes.ResourceExhausted, "larger than max"},
		{"bad idempotency key", &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: good, IdempotencyKey: "a b"}, codes.InvalidArgument, "idempotency key"},
		{"bad priority", &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: good, Priority: 9}, codes.InvalidArgument, "priority"},
		{"deadline passed", &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: good, Deadline: timestamppb.New(time.Now().Add(-time.Second))}, codes.InvalidArgument, "deadline already passed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Submit(ctx, tc.req)
			if s := status.Convert(err); s.Code() != tc.code || !strings.Contains(s.Message(), tc.mention) {
				t.Fatalf("got %v: %q; want %v mentioning %q", s.Code(), s.Message(), tc.code, tc.mention)
			}
		})
	}
	if _, err := c.Get(ctx, "no-such-job"); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown job: %v", err)
	}
	if _, err := c.Verify(ctx, []byte(`{"circuit": 1}`), ""); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed proof file: %v", err)
	}
}

// Resubmission, cancellation, a deadline passing in the queue, and a full
// queue, with the workers held back so the queue stays put.
func TestQueueSemantics(t *testing.T) {
	n, c := startTestNode(t, func(cfg *serveConfig) { cfg.pausedWorkers, cfg.MaxQueued = true, 3 })
	ctx := timeout(t, 2*time.Minute)
	submit := func(i int, edit func(*pb.SubmitProofRequest)) (*pb.Job, bool, error) {
		r := &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, i)}
		if edit != nil {
			edit(r)
		}
		return c.Submit(ctx, r)
	}
	first, created, err := submit(1, nil)
	if err != nil || !created {
		t.Fatal(err)
	}
	again, created, err := submit(1, func(r *pb.SubmitProofRequest) { r.Priority = pb.Priority_PRIORITY_BATCH })
	if err != nil || created || again.GetId() != first.GetId() {
		t.Fatalf("resubmission made another job: %v %v", again.GetId(), err)
	}
	late, _, err := submit(2, func(r *pb.SubmitProofRequest) { r.Deadline = timestamppb.New(time.Now().Add(300 * time.Millisecond)) })
	if err != nil {
		t.Fatal(err)
	}
	doomed, _, err := submit(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := submit(4, nil); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("queue full: got %v", err)
	}
	if j, err := c.Cancel(ctx, doomed.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel: %v %v", j, err)
	}
	if j, err := c.Cancel(ctx, doomed.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("a retried cancel: %v %v", j, err)
	}
	// The Prove RPC waits within the call's deadline; the job keeps running.
	conn, err := grpc.NewClient(n.addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rpc := pb.NewProverClient(conn)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := rpc.Prove(short, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 1)}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Prove past its deadline: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	n.pool.Start()
	if j, err := rpc.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 1)}); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED || j.GetId() != first.GetId() {
		t.Fatalf("Prove: %v %v", j, err)
	}
	if j, err := c.Wait(ctx, late.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_FAILED || j.GetErrorKind() != "deadline_exceeded" {
		t.Fatalf("late job: %v %v", j, err)
	}
	if j, err := c.Wait(ctx, first.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("first job: %v %v", j, err)
	}
}

// The client commands against a live node: submit, wait, status, cancel and
// prove --server, with the exit codes a script can branch on.
func TestClientCommands(t *testing.T) {
	n, _ := startTestNode(t, nil)
	addr := n.addr.String()
	input := writeFile(t, "in.json", invoiceInput(t, 77))
	code, stdout, stderr := proofmill(t, "submit", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", input, "--priority", "batch")
	if code != exitOK || !strings.Contains(stdout, "PRIORITY_BATCH") {
		t.Fatalf("submit: exit %d: %s%s", code, stdout, stderr)
	}
	var submitted struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &submitted); err != nil || submitted.ID == "" {
		t.Fatalf("submit printed no job: %v: %s", err, stdout)
	}
	id := submitted.ID
	proof := filepath.Join(t.TempDir(), "proof.json")
	if code, _, stderr := proofmill(t, "wait", "--server", addr, "--id", id, "--out", proof); code != exitOK {
		t.Fatalf("wait: exit %d: %s", code, stderr)
	}
	if code, stdout, _ := proofmill(t, "verify", "--keys", testkeys.Dir(), "--proof", proof); code != exitOK || !strings.Contains(stdout, "OK") {
		t.Fatalf("verify the served proof: exit %d", code)
	}
	if code, stdout, _ := proofmill(t, "status", "--server", addr, "--id", id); code != exitOK || !strings.Contains(stdout, "JOB_STATE_SUCCEEDED") {
		t.Fatalf("status: exit %d: %s", code, stdout)
	}
	if code, _, stderr := proofmill(t, "cancel", "--server", addr, "--id", id); code != exitUnsatisfied || !strings.Contains(stderr, "not queued") {
		t.Fatalf("cancel a finished job: exit %d: %s", code, stderr)
	}
	if code, _, _ := proofmill(t, "status", "--server", addr, "--id", "nope"); code != exitUnknown {
		t.Fatalf("status of an unknown job: exit %d", code)
	}
	late := writeFile(t, "late.json", strings.Replace(invoiceInput(t, 78), `"ship_date": "2026-03-09"`, `"ship_date": "2026-05-09"`, 1))
	if code, _, stderr := proofmill(t, "prove", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", late); code != exitUnsatisfied || !strings.Contains(stderr, "rule ship-window") {
		t.Fatalf("prove --server, false statement: exit %d: %s", code, stderr)
	}
	remote := filepath.Join(t.TempDir(), "remote.json")
	if code, _, stderr := proofmill(t, "prove", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", input, "--out", remote); code != exitOK {
		t.Fatalf("prove --server: exit %d: %s", code, stderr)
	}
}
