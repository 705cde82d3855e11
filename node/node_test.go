package node_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
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
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testConfig(t testing.TB) node.Config { return testnode.Config(t) }

// startNode runs a node in-process and connects to it; the test stops it.
func startNode(t testing.TB, edit func(*node.Config)) (*node.Node, *client.Client) {
	t.Helper()
	n := testnode.Start(t, edit)
	c, err := client.Dial(n.Addr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return n, c
}

func readExample(t testing.TB, name string) string {
	t.Helper()
	data, err := examples.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A node starts once and stops once; a failed start leaves nothing open
// (its journal can be opened again at once).
func TestLifecycle(t *testing.T) {
	cfg := testConfig(t)
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(t.Context()); !errors.Is(err, node.ErrState) {
		t.Fatalf("shutdown before start: %v", err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); !errors.Is(err, node.ErrState) {
		t.Fatalf("a second start: %v", err)
	}
	if err := n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(t.Context()); !errors.Is(err, node.ErrState) {
		t.Fatalf("a second shutdown: %v", err)
	}
	if err := n.Start(t.Context()); !errors.Is(err, node.ErrState) {
		t.Fatalf("a start after shutdown: %v", err)
	}

	// Starting fails late (the address is taken): the journal and the
	// audit log it opened are closed again.
	taken, _ := startNode(t, nil)
	bad := testConfig(t)
	bad.Listen = taken.Addr()
	n, err = node.New(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err == nil {
		t.Fatal("started on a taken address")
	}
	again := bad
	again.Listen = "127.0.0.1:0"
	n, err = node.New(again)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(timeout(t, 20*time.Second)); err != nil {
		t.Fatalf("the failed start left its files open: %v", err)
	}
	n.Shutdown(t.Context())

	for _, c := range []node.Config{{Role: node.Serve}, {Role: node.Worker}, {Role: node.Worker, Redis: "x", GPUs: "all"}} {
		if _, err := node.New(c); errcode.Of(err) != errcode.Usage {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestServiceRoundTrip(t *testing.T) {
	_, c := startNode(t, nil)
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
			for i, in := range v.GetPublicInputs() {
				if j.GetPublicInputs()[i].GetValue() != in.GetValue() {
					t.Fatalf("the job's public input %s is not the proof's", in.GetName())
				}
			}
			tampered := strings.Replace(string(j.GetProofJson()), `"1"`, `"2"`, 1)
			if v, err := c.Verify(ctx, []byte(tampered), tc.circuit); err == nil && v.GetValid() {
				t.Fatal("a tampered proof verified")
			}
			key, err := c.VerifyingKey(ctx, tc.circuit, pb.KeyFormat_KEY_FORMAT_SNARKJS)
			if err != nil || !strings.Contains(string(key.GetKey()), `"bn128"`) || key.GetVerifyingKeySha256() != j.GetVerifyingKeySha256() {
				t.Fatalf("verifying key: %v", err)
			}
			checkKeyDigests(ctx, t, c, j)
		})
	}
	devices, err := c.Devices(ctx)
	if err != nil || len(devices) != 1 || devices[0].GetKind() != "cpu" || !devices[0].GetHealthy() {
		t.Fatalf("devices: %v, %v", devices, err)
	}
}

// ListCircuits lists every circuit. Circuits without keys are compiled
// for their size (slow under -race: abs-pool-1024 has 1.4M constraints),
// so this runs beside the tests that mostly wait.
func TestListCircuits(t *testing.T) {
	t.Parallel()
	_, c := startNode(t, nil)
	listed, err := c.Circuits(timeout(t, 10*time.Minute))
	if want := len(circuits.All()); err != nil || len(listed) != want {
		t.Fatalf("circuits: %d, %v; want %d", len(listed), err, want)
	}
	for _, ci := range listed {
		if ci.GetConstraints() == 0 || len(ci.GetPublicInputs()) == 0 || ci.GetInputSchemaJson() == "" {
			t.Errorf("circuit %v", ci)
		}
	}
}

// 64 distinct jobs submitted at once (16 at a time), interactive and batch: all complete
// and every proof verifies.
func TestConcurrentSubmissions(t *testing.T) {
	_, c := startNode(t, func(cfg *node.Config) { cfg.Workers = 2 })
	ctx := timeout(t, 10*time.Minute)
	const jobs = 64
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
			j, created, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, i), Priority: priority})
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
	_, c := startNode(t, func(cfg *node.Config) { cfg.MaxInputBytes = 64 << 10 })
	ctx := timeout(t, time.Minute)
	good := readExample(t, "invoice-consistency.json")
	edit := func(path string, v any) string {
		return testinput.Example(t, "invoice-consistency.json").Set(path, v).JSON()
	}
	req := func(circuit, input string) *pb.SubmitProofRequest {
		return &pb.SubmitProofRequest{Circuit: circuit, InputJson: input}
	}
	const p = "21888242871839275222246405745257275088548364400416034343698204186575808495617" // the field's modulus
	cases := []struct {
		name    string
		req     *pb.SubmitProofRequest
		code    codes.Code
		kind    errcode.Code
		mention string
	}{
		{"unknown circuit", req("invoice/v9", good), codes.NotFound, errcode.UnknownCircuit, `unknown circuit "invoice/v9"`},
		{"no circuit", req("", good), codes.InvalidArgument, errcode.BadRequest, "circuit: required"},
		{"no input", req("invoice-consistency/v1", ""), codes.InvalidArgument, errcode.BadRequest, "input_json: required"},
		{"malformed JSON", req("invoice-consistency/v1", `{"invoice": [`), codes.InvalidArgument, errcode.InvalidInput, "malformed JSON"},
		{"unknown field", req("invoice-consistency/v1", strings.Replace(good, `"buyer"`, `"byer"`, 1)), codes.InvalidArgument, errcode.InvalidInput, "byer: unknown field"},
		{"out of range", req("invoice-consistency/v1", edit("invoice.currency", 65536)), codes.InvalidArgument, errcode.InvalidInput, "invoice.currency: out of range"},
		{"wrap-around", req("invoice-consistency/v1", edit("invoice.amount", p[:len(p)-1]+"6")), codes.InvalidArgument, errcode.InvalidInput, "invoice.amount: out of range"},
		{"unsatisfied", req("invoice-consistency/v1", edit("customs_declaration.importer", "7740022")), codes.FailedPrecondition, errcode.Unsatisfied, "rule buyer: customs declaration importer 7740022 differs from invoice buyer 7740021"},
		{"input too large", req("invoice-consistency/v1", good+strings.Repeat(" ", 64<<10)), codes.InvalidArgument, errcode.InvalidInput, "input too large"},
		{"message too large", req("invoice-consistency/v1", strings.Repeat(" ", 1<<20)), codes.ResourceExhausted, errcode.TooLarge, "larger than max"},
		{"bad idempotency key", &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: good, IdempotencyKey: "a b"}, codes.InvalidArgument, errcode.BadRequest, "idempotency key"},
		{"bad priority", &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: good, Priority: 9}, codes.InvalidArgument, errcode.BadRequest, "priority"},
		{"deadline passed", &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: good, Deadline: timestamppb.New(time.Now().Add(-time.Second))}, codes.InvalidArgument, errcode.BadRequest, "deadline already passed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Submit(ctx, tc.req)
			if s := status.Convert(err); s.Code() != tc.code || errcode.Of(err) != tc.kind || !strings.Contains(s.Message(), tc.mention) {
				t.Fatalf("got %v (%s): %q; want %v (%s) mentioning %q", s.Code(), errcode.Of(err), s.Message(), tc.code, tc.kind, tc.mention)
			}
		})
	}
	if _, err := c.Get(ctx, "no-such-job"); errcode.Of(err) != errcode.JobNotFound {
		t.Fatalf("unknown job: %v", err)
	}
	if _, err := c.Verify(ctx, []byte(`{"circuit": 1}`), ""); errcode.Of(err) != errcode.BadProofFile {
		t.Fatalf("malformed proof file: %v", err)
	}
}

// Resubmission, cancellation, a deadline passing in the queue, and a full
// queue, with the workers held back so the queue stays put.
func TestQueueSemantics(t *testing.T) {
	n, c := startNode(t, func(cfg *node.Config) { node.HoldWorkers(cfg); cfg.MaxQueued = 3 })
	ctx := timeout(t, 2*time.Minute)
	submit := func(i int, edit func(*pb.SubmitProofRequest)) (*pb.Job, bool, error) {
		r := &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, i)}
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
	if _, _, err := submit(4, nil); errcode.Of(err) != errcode.QueueFull {
		t.Fatalf("queue full: got %v", err)
	}
	if j, err := c.Cancel(ctx, doomed.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel: %v %v", j, err)
	}
	if j, err := c.Cancel(ctx, doomed.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("a retried cancel: %v %v", j, err)
	}
	// The Prove RPC waits within the call's deadline; the job keeps running.
	conn, err := grpc.NewClient(n.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rpc := pb.NewProverClient(conn)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := rpc.Prove(short, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1)}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Prove past its deadline: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := n.StartWorkers(); err != nil {
		t.Fatal(err)
	}
	if j, err := rpc.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1)}); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED || j.GetId() != first.GetId() {
		t.Fatalf("Prove: %v %v", j, err)
	}
	if j, err := c.Wait(ctx, late.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_FAILED || j.GetErrorKind() != "deadline_exceeded" {
		t.Fatalf("late job: %v %v", j, err)
	}
	if j, err := c.Wait(ctx, first.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("first job: %v %v", j, err)
	}
}

// An oversize input_json is refused with a message naming the field and
// the limit, whether the handler or gRPC itself refuses it, and the limit
// is one for local and served proving (input.MaxDocumentBytes).
func TestOversizeInputNamesTheLimit(t *testing.T) {
	_, c := startNode(t, func(cfg *node.Config) { cfg.Workers = -1 })
	for size, code := range map[int]errcode.Code{
		input.MaxDocumentBytes + 1:         errcode.InvalidInput, // the handler: the document is over the limit
		2*input.MaxDocumentBytes + 128<<10: errcode.TooLarge,     // gRPC: the message is
	} {
		_, _, err := c.Submit(timeout(t, time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: strings.Repeat(" ", size)})
		if errcode.Of(err) != code || !strings.Contains(client.Message(err), "--max-input") {
			t.Fatalf("%d bytes: %v; want %s naming --max-input", size, err, code)
		}
		if size == input.MaxDocumentBytes+1 && !strings.Contains(client.Message(err), "input_json") {
			t.Fatalf("%d bytes: %v; want the field named", size, err)
		}
	}
	if _, err := node.New(node.Config{Listen: "127.0.0.1:0", MaxInputBytes: input.MaxDocumentBytes + 1}); errcode.Of(err) != errcode.Usage {
		t.Fatalf("--max-input over the document limit: %v; want a usage error", err)
	}
}

// One digit of a stored proof changed inside jobs.db (same length, so the
// file still opens) is never served as a success: status and wait would
// otherwise log "receipt verified" over a proof that does not verify.
func TestChangedProofInTheJournalIsDataLoss(t *testing.T) {
	data := t.TempDir()
	n, c := startNode(t, func(cfg *node.Config) { cfg.DataDir = data })
	j, err := c.Prove(timeout(t, 2*time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 4242)})
	if err != nil || c.VerifyReceipt(timeout(t, time.Minute), j) != nil {
		t.Fatalf("prove: %v %v", j, err)
	}
	if err := n.Shutdown(timeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	path := data + "/jobs.db"
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(db, []byte(`"result":"`))
	if at < 0 {
		t.Fatal("no stored proof found in jobs.db")
	}
	at += len(`"result":"`) + 200 // inside the proof's base64
	db[at] = map[bool]byte{true: 'B', false: 'A'}[db[at] == 'A']
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	_, c2 := startNode(t, func(cfg *node.Config) { cfg.DataDir = data })
	if got, err := c2.Get(timeout(t, time.Minute), j.GetId()); errcode.Of(err) != errcode.CorruptRecord {
		t.Fatalf("GetJob of a changed proof: %v %v; want DATA_LOSS (corrupt_record)", got, err)
	}
}

// checkKeyDigests: for every format, the SHA-256 of the bytes
// GetVerifyingKey serves is the digest the job lists for it, and the gnark
// format's is the job's verifying_key_sha256 (what `sha256sum` prints).
func checkKeyDigests(ctx context.Context, t *testing.T, c *client.Client, j *pb.Job) {
	t.Helper()
	named := map[pb.KeyFormat]string{}
	for _, d := range j.GetVerifyingKeyDigests() {
		named[d.GetFormat()] = d.GetSha256()
	}
	formats := []pb.KeyFormat{pb.KeyFormat_KEY_FORMAT_GNARK, pb.KeyFormat_KEY_FORMAT_SNARKJS, pb.KeyFormat_KEY_FORMAT_SOLIDITY}
	if len(named) != len(formats) {
		t.Fatalf("the job lists digests for %v, want %v", named, formats)
	}
	seen := map[string]bool{}
	for _, f := range formats {
		key, err := c.VerifyingKey(ctx, j.GetCircuit(), f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(key.GetKey())
		served := hex.EncodeToString(sum[:])
		if served != named[f] || served != key.GetKeySha256() {
			t.Fatalf("%v: sha256 of the served key %s, the job names %s, the response %s", f, served, named[f], key.GetKeySha256())
		}
		if seen[served] {
			t.Fatalf("%v: two formats with one digest", f)
		}
		seen[served] = true
		if key.GetVerifyingKeySha256() != j.GetVerifyingKeySha256() {
			t.Fatalf("%v: the response names key %s, the job %s", f, key.GetVerifyingKeySha256(), j.GetVerifyingKeySha256())
		}
	}
	if named[pb.KeyFormat_KEY_FORMAT_GNARK] != j.GetVerifyingKeySha256() {
		t.Fatalf("the gnark format's digest %s is not the job's key %s", named[pb.KeyFormat_KEY_FORMAT_GNARK], j.GetVerifyingKeySha256())
	}
}
