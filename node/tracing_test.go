package node_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/internal/leaktest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
)

// kept is an in-memory exporter whose spans outlive its provider's
// shutdown (tracetest's own forgets them then).
type kept struct{ *tracetest.InMemoryExporter }

func (kept) Shutdown(context.Context) error { return nil }

func newKept() kept { return kept{tracetest.NewInMemoryExporter()} }

// The span tree of one job, by name: each span's parent. The RPC is the
// root; the queue wait, the attempt and the result's write are the worker's.
var jobTree = map[string]string{
	"proofmill.v1.Prover/Prove": "",
	"admission":                 "proofmill.v1.Prover/Prove",
	"admission.decode_check":    "admission",
	"admission.keys":            "admission",
	"admission.journal_write":   "admission",
	"job.queue_wait":            "proofmill.v1.Prover/Prove",
	"job.attempt":               "proofmill.v1.Prover/Prove",
	"job.key_load":              "job.attempt",
	"job.input":                 "job.attempt",
	"prover.solve_prove":        "job.attempt",
	"prover.solve":              "prover.solve_prove", // the CPU in the worker's process tells the solve's end
	"prover.prove":              "prover.solve_prove",
	"prover.verify":             "job.attempt",
	"job.result_write":          "proofmill.v1.Prover/Prove",
}

// workerSide are the spans the process that proves makes.
var workerSide = map[string]bool{"job.queue_wait": true, "job.attempt": true, "job.key_load": true, "job.input": true,
	"prover.solve_prove": true, "prover.solve": true, "prover.prove": true, "prover.verify": true, "job.result_write": true}

// One job's trace, on the embedded journal and across Redis (a server
// and a separate worker node that share only Redis): every stage's span,
// under its parent and within its interval, in one trace, the worker's
// spans made by the worker and none of them holding an input.
func TestTraceOfOneJob(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis bool
	}{{"embedded", false}, {"redis", true}} {
		t.Run(tc.name, func(t *testing.T) {
			serverSpans, workerSpans := newKept(), newKept()
			var redisAddr string
			if tc.redis {
				redisAddr = redistest.Start(t).Addr
			}
			srv := testnode.Start(t, func(c *node.Config) {
				c.Tracing.Exporter = serverSpans
				if tc.redis {
					c.Redis, c.Workers = redisAddr, 0
				}
			})
			nodes := []*node.Node{srv}
			if tc.redis {
				nodes = append(nodes, testnode.Start(t, func(c *node.Config) {
					c.Role, c.Redis, c.Workers, c.Listen = node.Worker, redisAddr, 1, ""
					c.Tracing.Exporter = workerSpans
				}))
			}
			conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			input, markers := markedInvoice(t)
			ctx := timeout(t, 2*time.Minute)
			j, err := pb.NewProverClient(conn).Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: input})
			if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("prove: %v %v", j, err)
			}
			for _, n := range nodes {
				if err := n.Shutdown(ctx); err != nil { // flushes the spans
					t.Fatal(err)
				}
			}
			all := append(serverSpans.GetSpans(), workerSpans.GetSpans()...)
			if tc.redis {
				for _, s := range serverSpans.GetSpans() {
					if workerSide[s.Name] {
						t.Errorf("the server made %s: the worker proves", s.Name)
					}
				}
				if len(workerSpans.GetSpans()) == 0 {
					t.Fatal("the worker node exported no spans")
				}
			}
			checkJobTree(t, all, j.GetId())
			checkNoInputs(t, all, markers)
		})
	}
}

// checkJobTree checks one trace holds exactly jobTree: names, parents,
// each child within its parent's interval, the prove span's backend and
// device.
func checkJobTree(t *testing.T, all tracetest.SpanStubs, jobID string) {
	t.Helper()
	byName := map[string]tracetest.SpanStub{}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var traceID trace.TraceID
	for _, s := range all {
		if _, ok := jobTree[s.Name]; !ok {
			t.Errorf("unexpected span %q", s.Name)
			continue
		}
		if _, dup := byName[s.Name]; dup {
			t.Errorf("two %q spans", s.Name)
		}
		byName[s.Name], byID[s.SpanContext.SpanID()] = s, s
		if traceID.IsValid() && s.SpanContext.TraceID() != traceID {
			t.Errorf("%s is in trace %s, the job's other spans in %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
		traceID = s.SpanContext.TraceID()
	}
	for _, s := range all { // the tree's figures, for a look: -v
		t.Logf("%-26s %-8s start +%-12v took %v", s.Name, s.SpanContext.SpanID(), s.StartTime.Sub(byName["proofmill.v1.Prover/Prove"].StartTime), s.EndTime.Sub(s.StartTime))
	}
	for name, parent := range jobTree {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no %q span", name)
			continue
		}
		if parent == "" {
			if s.Parent.IsValid() {
				t.Errorf("%s has a parent; it is the root", name)
			}
			continue
		}
		p, ok := byID[s.Parent.SpanID()]
		switch {
		case !ok:
			t.Errorf("%s's parent is not in the trace, want %s", name, parent)
		case p.Name != parent:
			t.Errorf("%s's parent is %s, want %s", name, p.Name, parent)
		case s.StartTime.Before(p.StartTime) || s.EndTime.After(p.EndTime):
			t.Errorf("%s [%v, %v] is not within its parent %s [%v, %v]", name, s.StartTime, s.EndTime, p.Name, p.StartTime, p.EndTime)
		}
	}
	attrs := func(name string) map[string]string {
		m := map[string]string{}
		for _, kv := range byName[name].Attributes {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	if a := attrs("prover.solve_prove"); a["proofmill.backend"] != "cpu" || a["proofmill.device"] != "cpu" {
		t.Errorf("prover.solve_prove's attributes %v, want backend and device cpu", a)
	}
	if a := attrs("job.attempt"); a["proofmill.job"] != jobID || a["proofmill.attempt"] != "1" || a["proofmill.circuit"] != "invoice-consistency/v1" || a["proofmill.backend"] != "cpu" {
		t.Errorf("job.attempt's attributes %v, want job %s, attempt 1, the circuit, backend cpu", a, jobID)
	}
	if a := attrs("admission"); a["proofmill.job"] != jobID {
		t.Errorf("admission's attributes %v, want job %s", a, jobID)
	}
}

// checkNoInputs checks that no span (its attributes, events, status)
// holds a marked value of the input, in any form a witness takes.
func checkNoInputs(t *testing.T, all tracetest.SpanStubs, markers []*leaktest.Marker) {
	t.Helper()
	data, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range markers {
		if form := m.In(data); form != "" {
			t.Errorf("the spans hold the %s (%s)", m.Name, form)
		}
	}
}

// discard is an exporter that drops every span: tracing's cost without an
// exporter's.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkSubmitTracing is a submission's cost (gRPC, admission, the
// journal's durable write) with tracing off and on (every span made,
// batched, dropped). Interleave them and compare:
//
//	go test ./node -run '^$' -bench SubmitTracing -count 6
func BenchmarkSubmitTracing(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			_, cl := startNode(b, func(cfg *node.Config) {
				cfg.Workers, cfg.MaxQueued = -1, 1<<20
				if on {
					cfg.Tracing.Exporter = discard{}
				}
			})
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if _, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(b, i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
