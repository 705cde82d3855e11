package scheduler

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/proofmill/proofmill/internal/spans"
)

// propagator writes and reads a job's Trace: W3C traceparent and
// tracestate, whatever the process's global propagator is.
var propagator = propagation.TraceContext{}

func (s *Scheduler) tracer() trace.Tracer {
	if s.cfg.Tracing == nil {
		return noop.Tracer{}
	}
	return s.cfg.Tracing.Tracer(spans.TracerName)
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
