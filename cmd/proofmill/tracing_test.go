package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// serve --trace-stdout prints one job's spans, as JSON, by shutdown: every
// stage, in one trace under the SubmitProof call.
func TestServeTraceStdout(t *testing.T) {
	addr := proctest.FreeAddr(t)
	var stdout, stderr bytes.Buffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exited := make(chan int, 1)
	go func() {
		exited <- execute(ctx, &env{stdout: &stdout, stderr: &stderr, log: quiet}, append([]string{"serve", "--listen", addr, "--metrics", "",
			"--data", t.TempDir(), "--keys", testkeys.Dir(), "--preload", "none", "--workers", "1", "--trace-stdout"}, proctest.ServiceKeyFlags(t)...))
	}()
	c, err := client.Dial(addr, client.Options{Retries: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	j, err := c.Prove(pctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 3)})
	if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("prove: %v %v", j, err)
	}
	stop() // SIGTERM, as it were: the shutdown flushes the spans
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop in a minute")
	}
	type span struct {
		Name        string
		SpanContext struct{ TraceID, SpanID string }
		Parent      struct{ SpanID string }
	}
	byName := map[string]span{}
	for dec := json.NewDecoder(&stdout); ; {
		var s span
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("stdout is not a stream of JSON spans: %v", err)
		}
		byName[s.Name] = s
	}
	root := byName["proofmill.v1.Prover/SubmitProof"]
	for _, name := range []string{"admission", "admission.decode_check", "admission.journal_write", "job.queue_wait", "job.attempt",
		"job.key_load", "prover.solve_prove", "prover.verify", "job.result_write"} {
		s, ok := byName[name]
		if !ok || s.SpanContext.TraceID != root.SpanContext.TraceID {
			t.Errorf("span %s: printed %v, trace %s; want it in the SubmitProof call's trace %s", name, ok, s.SpanContext.TraceID, root.SpanContext.TraceID)
		}
	}
	if byName["job.attempt"].Parent.SpanID != root.SpanContext.SpanID || root.SpanContext.SpanID == "" {
		t.Errorf("job.attempt's parent is %s, want the SubmitProof call %s", byName["job.attempt"].Parent.SpanID, root.SpanContext.SpanID)
	}
}
