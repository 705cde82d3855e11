package spans_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/spans"
)

// A span under a traced one is the parent's provider's; an error marks it
// failed with its code, never its text (which may quote an input); a
// context with no span makes the no-op one.
func TestStartEnd(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for _, tc := range []struct {
		name     string
		err      error
		wantCode codes.Code
		wantKind string
	}{
		{"ok", nil, codes.Unset, ""},
		{"unsatisfied", errcode.Errorf(errcode.Unsatisfied, "rule amounts: invoice amount 73190044288153 is not the declared value"), codes.Error, string(errcode.Unsatisfied)},
		{"uncoded", errors.New("salt 4242 leaked"), codes.Error, string(errcode.Of(errors.New("x")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
			_, span := spans.Start(ctx, "child")
			spans.End(span, tc.err)
			parent.End()
			ended := rec.Ended()
			child := ended[len(ended)-2]
			if child.Name() != "child" || child.Parent().SpanID() != parent.SpanContext().SpanID() {
				t.Fatalf("span %q under %v, want child under the parent", child.Name(), child.Parent().SpanID())
			}
			if child.Status().Code != tc.wantCode || child.Status().Description != tc.wantKind {
				t.Errorf("status %v %q, want %v %q", child.Status().Code, child.Status().Description, tc.wantCode, tc.wantKind)
			}
			kind := ""
			for _, kv := range child.Attributes() {
				if kv.Key == "proofmill.error_kind" {
					kind = kv.Value.AsString()
				}
			}
			if kind != tc.wantKind {
				t.Errorf("proofmill.error_kind %q, want %q", kind, tc.wantKind)
			}
		})
	}
	_, span := spans.Start(context.Background(), "untraced")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("a span under no span records")
	}
	spans.End(span, errors.New("x")) // and ending it is harmless
}
