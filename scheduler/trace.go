package scheduler

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/proofmill/proofmill/errcode"
)

// TracerName names the tracer of the spans the scheduler and those below
// it (the worker, the prover) make.
const TracerName = "github.com/proofmill/proofmill"

// propagator writes and reads a job's Trace: W3C traceparent and
// tracestate, whatever the process's global propagator is.
var propagator = propagation.TraceContext{}

// spanOf starts a span under the one in ctx, with that span's provider: a
// request that is not traced (the no-op provider, or none) costs nothing
// here.
func spanOf(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(TracerName).Start(ctx, name, trace.WithAttributes(attrs...))
}

// EndSpan ends a span, marking it failed with err's errcode, never with
// err's text: errors may quote inputs.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		kind := string(errcode.Of(err))
		span.SetAttributes(attribute.String("proofmill.error_kind", kind))
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}

// traceCarrier is the trace context in ctx as a job stores it; nil when
// ctx holds no span.
func traceCarrier(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c
}

// TraceContext is ctx with the job's stored trace context as the remote
// parent of the spans made under it: a worker continues the trace of the
// request that made the job, in whichever process that ran.
func (j *Job) TraceContext(ctx context.Context) context.Context {
	if len(j.Trace) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(j.Trace))
}

// JobAttributes are the span attributes that name a job: none of its
// inputs.
func JobAttributes(j *Job) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("proofmill.job", j.ID),
		attribute.String("proofmill.circuit", j.Circuit),
		attribute.String("proofmill.priority", j.Priority.String()),
		attribute.Int("proofmill.attempt", j.Attempts),
	}
	if j.Tenant != "" {
		attrs = append(attrs, attribute.String("proofmill.tenant", j.Tenant))
	}
	return attrs
}
