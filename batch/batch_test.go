package batch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/audit"
	"github.com/proofmill/proofmill/batch"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/tenants"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func compact(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// file is a batch: n good invoices from number `from`, with a false
// statement and a malformed line after the first.
func file(t testing.TB, from, n int) []byte {
	var lines bytes.Buffer
	for i := range n {
		fmt.Fprintf(&lines, `{"circuit": "invoice-consistency/v1", "input": %s}`+"\n", compact(t, testinput.Invoice(t, from+i)))
		if i == 0 {
			bad := testinput.Example(t, "invoice-consistency.json").Set("bill_of_lading.quantity", 1100).JSON()
			fmt.Fprintf(&lines, `{"circuit": "invoice-consistency/v1", "input": %s}`+"\n", compact(t, bad))
			lines.WriteString("{not json\n")
		}
	}
	return lines.Bytes()
}

func startNode(t *testing.T, edit func(*node.Config)) *node.Node { return testnode.Start(t, edit) }

func dial(t *testing.T, addr, token string) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, client.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A batch goes through the same admission as SubmitProof: it is refused
// without credentials, its jobs are the tenant's and count against its
// quota, and the audit log records each one. Refused lines say why, the
// rest run, and a rerun submits nothing again.
func TestBatchGoesThroughAdmission(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(dir, "tenants.json")
	os.WriteFile(table, []byte(fmt.Sprintf(`{"tenants": [{"id": "bank-a", "max_queued": 2, "tokens_sha256": [%q]}]}`, tenants.Digest("token-a"))), 0o600)
	data := t.TempDir()
	noWorkers := func(c *node.Config) { c.Tenants, c.DataDir, c.Workers = table, data, -1 }
	n := startNode(t, noWorkers)
	ctx := t.Context()
	in := file(t, 100, 2)

	anon := &batch.Record{ID: batch.ID(in), Server: n.Addr()}
	if _, err := batch.Submit(ctx, dial(t, n.Addr(), ""), anon, in, quiet); errcode.Of(err) != errcode.Unauthenticated || len(anon.Lines) != 0 {
		t.Fatalf("a batch without credentials: %v, %d lines", err, len(anon.Lines))
	}

	c := dial(t, n.Addr(), "token-a")
	rec := &batch.Record{ID: batch.ID(in), Server: n.Addr()}
	counts, err := batch.Submit(ctx, c, rec, in, quiet)
	if err != nil || counts != (batch.Counts{Queued: 2, Rejected: 2}) || len(rec.Lines) != 4 {
		t.Fatalf("submit: %+v, %v, %d lines", counts, err, len(rec.Lines))
	}
	if l := rec.Lines[1]; l.ErrorKind != "unsatisfied" || !strings.HasPrefix(l.Error, "rule quantity: bill of lading quantity 1100") {
		t.Fatalf("the false statement's line: %+v", l)
	}
	if l := rec.Lines[2]; l.ErrorKind != "invalid_input" || !strings.HasPrefix(l.Error, "malformed JSON") {
		t.Fatalf("the malformed line: %+v", l)
	}
	_, _, err = c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 999)})
	if errcode.Of(err) != errcode.TenantQuota || !strings.Contains(err.Error(), "bank-a") {
		t.Fatalf("the batch's jobs did not count against bank-a's quota of 2: %v", err)
	}
	if again, err := batch.Submit(ctx, c, &batch.Record{ID: rec.ID}, in, quiet); err != nil || again != (batch.Counts{Known: 2, Rejected: 2}) {
		t.Fatalf("rerun: %+v %v", again, err)
	}

	log, err := os.ReadFile(filepath.Join(data, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.Verify(bytes.NewReader(log)); err != nil {
		t.Fatal(err)
	}
	submitted := 0
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		var r audit.Record
		json.Unmarshal([]byte(line), &r)
		if r.Event == "submitted" && r.Tenant == "bank-a" && (r.Job == rec.Lines[0].Job || r.Job == rec.Lines[3].Job) {
			submitted++
		}
	}
	if submitted != 2 {
		t.Fatalf("%d submitted records of the batch's jobs, want 2:\n%s", submitted, log)
	}

	// Another server on the same journal, with a worker, proves them.
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, func(c *node.Config) { noWorkers(c); c.Workers = 1 })
	c = dial(t, n.Addr(), "token-a")
	tr := batch.NewTracker(c, rec)
	var progress bytes.Buffer
	if err := tr.Watch(ctx, &progress, false, quiet); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := tr.Collect(ctx, &out)
	if !errors.Is(err, batch.ErrIncomplete) || errcode.Of(err) != errcode.BatchIncomplete || p != (batch.Progress{Total: 4, Succeeded: 2, Failed: 2}) {
		t.Fatalf("collect: %+v %v", p, err)
	}
	results := readResults(t, &out)
	if len(results) != 4 || results[1].State != batch.StateRejected || results[0].State != "succeeded" || results[3].State != "succeeded" {
		t.Fatalf("results %+v", results)
	}
	for _, r := range []batch.Result{results[0], results[3]} {
		if v, err := c.Verify(ctx, r.Proof, ""); err != nil || !v.GetValid() {
			t.Fatalf("line %d: the proof does not verify: %v", r.Line, err)
		}
	}
	if !strings.Contains(progress.String(), "4/4  done 2  failed 2") {
		t.Fatalf("progress: %s", progress.String())
	}
}

func readResults(t *testing.T, r io.Reader) []batch.Result {
	t.Helper()
	var rs []batch.Result
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var res batch.Result
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, res)
	}
	return rs
}

// When nothing consumes the queue, watching a batch says so instead of
// showing no progress forever.
func TestWatchSaysNothingIsProving(t *testing.T) {
	n := startNode(t, func(c *node.Config) { c.Workers = -1 })
	c := dial(t, n.Addr(), "")
	in := file(t, 200, 1)
	rec := &batch.Record{ID: batch.ID(in), Server: n.Addr()}
	if _, err := batch.Submit(t.Context(), c, rec, in, quiet); err != nil {
		t.Fatal(err)
	}
	var logs proctest.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var progress bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- batch.NewTracker(c, rec).Watch(ctx, &progress, false, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	for !strings.Contains(logs.String(), "nothing is proving") && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("watch: %v", err)
	}
	if !strings.Contains(logs.String(), "nothing is proving") {
		t.Fatalf("no word that nothing proves:\n%s", logs.String())
	}
}

func TestRecords(t *testing.T) {
	r := batch.Records{Dir: filepath.Join(t.TempDir(), "batches")}
	rec := &batch.Record{ID: "abc", Source: "in.jsonl", Lines: []batch.Line{{Line: 1, Job: "j1"}, {Line: 2, Error: "rule x", ErrorKind: "unsatisfied"}}}
	if err := r.Save(rec); err != nil {
		t.Fatal(err)
	}
	got, err := r.Load("abc")
	if err != nil || len(got.Lines) != 2 || got.Lines[1].ErrorKind != "unsatisfied" {
		t.Fatalf("load: %+v %v", got, err)
	}
	if _, err := r.Load("nope"); !errors.Is(err, batch.ErrNoBatch) || errcode.Of(err) != errcode.BatchNotFound {
		t.Fatalf("a missing batch: %v", err)
	}
	if batch.ID([]byte("a")) == batch.ID([]byte("b")) || len(batch.ID(nil)) != 16 {
		t.Fatal("batch ids")
	}
}

// A batch run through `serve --redis` and a worker process goes on
// through a Redis restart; its proofs verify; rerunning the file proves
// nothing again.
func TestRunThroughRedisRestart(t *testing.T) {
	redis := redistest.Start(t)
	addr := proctest.FreeAddr(t)
	srv := proctest.Start(t, "server", append([]string{"serve", "--redis", redis.Addr, "--listen", addr, "--metrics", "",
		"--data", t.TempDir(), "--keys", testkeys.Dir(), "--preload", "invoice-consistency/v1", "--dev-setup=false"},
		proctest.ServiceKeyFlags(t)...)...)
	proctest.Dial(t, srv, addr)
	w := proctest.Start(t, "worker", append([]string{"worker", "--redis", redis.Addr, "--keys", testkeys.Dir(), "--workers", "1",
		"--preload", "invoice-consistency/v1"}, proctest.ServiceKeyFlags(t)...)...)
	w.WaitForLog(t, "worker ready")
	dir := t.TempDir()
	in, out, records := filepath.Join(dir, "requests.jsonl"), filepath.Join(dir, "proofs.jsonl"), filepath.Join(dir, "batches")
	const good = 24
	if err := os.WriteFile(in, file(t, 5000, good), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"batch", "run", "--server", addr, "--in", in, "--out", out, "--records", records}
	run := proctest.Start(t, "batch run", args...)
	deadline := time.Now().Add(2 * time.Minute)
	for w.Count("msg=proved") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress:\n%s", run.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	redis.Stop()
	time.Sleep(3 * time.Second)
	if w.Count("msg=proved") >= good {
		t.Fatal("the batch was done before Redis went away")
	}
	redis.Restart()

	select {
	case <-run.Exited:
	case <-time.After(3 * time.Minute):
		t.Fatalf("batch run did not finish:\n%s", run.Logs())
	}
	if code := run.Cmd.ProcessState.ExitCode(); code != errcode.BatchIncomplete.Entry().Exit {
		t.Fatalf("batch run exited %d, want %d (two lines failed)", code, errcode.BatchIncomplete.Entry().Exit)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	results := readResults(t, f)
	f.Close()
	if len(results) != good+2 {
		t.Fatalf("%d result lines, want %d", len(results), good+2)
	}
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: testkeys.Dir()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, r := range results {
		switch r.Line {
		case 2:
			if r.State != batch.StateRejected || !strings.Contains(r.Error, "rule quantity") {
				t.Fatalf("unsatisfiable line: %+v", r)
			}
		case 3:
			if r.State != batch.StateRejected || !strings.Contains(r.Error, "malformed") {
				t.Fatalf("malformed line: %+v", r)
			}
		default:
			if r.State != "succeeded" {
				t.Fatalf("line %d: %s %s", r.Line, r.State, r.Error)
			}
			if _, err := p.VerifyFile(r.Proof); err != nil {
				t.Fatalf("line %d: proof does not verify: %v", r.Line, err)
			}
			succeeded++
		}
	}
	if succeeded != good {
		t.Fatalf("%d proofs, want %d", succeeded, good)
	}
	before := w.Count("msg=proved")
	again := proctest.Start(t, "batch rerun", args...)
	<-again.Exited
	if !strings.Contains(again.Logs(), "0 queued, 24 already known, 2 rejected") || w.Count("msg=proved") != before {
		t.Fatalf("the rerun proved again (%d → %d):\n%s", before, w.Count("msg=proved"), again.Logs())
	}
}

func TestProgressLine(t *testing.T) {
	cases := []struct {
		p       batch.Progress
		atStart int
		elapsed time.Duration
		want    string
	}{
		{batch.Progress{Total: 10, Pending: 10}, 0, time.Second, "[........................] 0/10  done 0  failed 0  0.00/s  ETA ?"},
		{batch.Progress{Total: 10, Succeeded: 4, Failed: 1, Pending: 5}, 0, 5 * time.Second, "[############............] 5/10  done 4  failed 1  1.00/s  ETA 5s"},
		// Lines already finished when watching began do not count toward the rate.
		{batch.Progress{Total: 8, Succeeded: 6, Pending: 2}, 4, 2 * time.Second, "[##################......] 6/8  done 6  failed 0  1.00/s  ETA 2s"},
	}
	for _, c := range cases {
		if got := batch.ProgressLine(c.p, c.atStart, c.elapsed); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// tampering hands out every job with one byte of its proof changed, as a
// store or a network in the way might.
type tampering struct{ *client.Client }

func (s tampering) Get(ctx context.Context, id string) (*pb.Job, error) {
	j, err := s.Client.Get(ctx, id)
	if err == nil && len(j.GetProofJson()) > 0 {
		j.ProofJson[len(j.ProofJson)/2] ^= 1
	}
	return j, err
}

// A proof whose receipt does not verify is not delivered: its line fails,
// naming the receipt.
func TestCollectChecksReceipts(t *testing.T) {
	n := startNode(t, nil)
	c := dial(t, n.Addr(), "")
	var in bytes.Buffer
	fmt.Fprintf(&in, `{"circuit": "invoice-consistency/v1", "input": %s}`+"\n", compact(t, testinput.Invoice(t, 300)))
	rec := &batch.Record{ID: batch.ID(in.Bytes()), Server: n.Addr()}
	if _, err := batch.Submit(t.Context(), c, rec, in.Bytes(), quiet); err != nil {
		t.Fatal(err)
	}
	if err := batch.NewTracker(c, rec).Watch(t.Context(), io.Discard, false, quiet); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := batch.NewTracker(tampering{c}, rec).Collect(t.Context(), &out)
	results := readResults(t, &out)
	if !errors.Is(err, batch.ErrIncomplete) || p.Failed != 1 || len(results) != 1 || results[0].ErrorKind != "receipt_invalid" || results[0].Proof != nil {
		t.Fatalf("collect of a changed proof: %+v %v %+v", p, err, results)
	}
}
