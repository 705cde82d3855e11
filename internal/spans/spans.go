// Package spans is how proofmill's packages make trace spans: under the
// span in the context, with that span's tracer provider, so that code
// below the composition root needs no tracer of its own and a request that
// is not traced costs nothing. A span is marked failed with an error's
// errcode, never with its text: errors may quote inputs.
package spans

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/proofmill/proofmill/errcode"
)

// TracerName names the tracer of every proofmill span.
const TracerName = "github.com/proofmill/proofmill"

// Start starts a span under the one in ctx (none: the no-op one).
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(TracerName).Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span; a non-nil err marks it failed, with err's errcode as its
// status and its proofmill.error_kind attribute.
func End(span trace.Span, err error) {
	if err != nil {
		kind := string(errcode.Of(err))
		span.SetAttributes(attribute.String("proofmill.error_kind", kind))
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}
