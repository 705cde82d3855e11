package conformance

import (
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/proofmill/proofmill/scheduler"
)

// traceTravels: the trace context of the request that made a job is
// stored with it and read by whichever process starts it, after a restart
// too, and the time it went in line is kept for the queue-wait span (and
// moved when a failed attempt puts it back).
func traceTravels(t *testing.T, b Backend) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := trace.ContextWithRemoteSpanContext(ctxT(t), sc)
	s := newScheduler(b, scheduler.Config{MaxAttempts: 2})
	j, _, err := s.Submit(ctx, scheduler.Request{Circuit: circuit, Input: Input(t, 30)})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Trace["traceparent"]; got != traceparent {
		t.Fatalf("submitted job's traceparent %q, want %q", got, traceparent)
	}
	if j.Queued.Before(j.Submitted) {
		t.Fatalf("queued at %v, before its submission at %v", j.Queued, j.Submitted)
	}
	b2 := b.Restart(t)
	s2 := newScheduler(b2, scheduler.Config{MaxAttempts: 2})
	if _, err := s2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	run := next(t, s2)
	if run.ID != j.ID || run.Trace["traceparent"] != traceparent || !run.Queued.Equal(j.Queued) || run.Started.Before(run.Queued) {
		t.Fatalf("started job: trace %v queued %v started %v; want trace %s queued %v", run.Trace, run.Queued, run.Started, traceparent, j.Queued)
	}
	if got := trace.SpanContextFromContext(run.TraceContext(ctxT(t))); got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsRemote() {
		t.Fatalf("the job's trace context is %v, want the request's %v, remote", got, sc)
	}
	time.Sleep(2 * time.Millisecond) // a clock that moves between the two
	if err := s2.Finish(ctx, j.ID, scheduler.Outcome{Attempt: 1, Err: errors.New("device lost")}); err != nil {
		t.Fatal(err)
	}
	again, err := s2.Get(ctx, j.ID)
	if err != nil {
		t.Fatalf("after a failed attempt: %v; want it queued again after %v, with its trace", err, run.Started)
	}
	if again.State != scheduler.Queued || !again.Queued.After(run.Started) || again.Trace["traceparent"] != traceparent {
		t.Fatalf("after a failed attempt: %s, queued %v, trace %v; want it queued again after %v, with its trace", again.State, again.Queued, again.Trace, run.Started)
	}
	// A request with no trace stores none.
	plain, _, err := s2.Submit(ctxT(t), scheduler.Request{Circuit: circuit, Input: Input(t, 31)})
	if err != nil || plain.Trace != nil {
		t.Fatalf("untraced submission: trace %v, %v", plain.Trace, err)
	}
}
