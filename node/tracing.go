package node

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/proofmill/proofmill/errcode"
)

// Tracing is where a node's OpenTelemetry spans go. The zero value traces
// nothing: no provider is made, and every span is the no-op one.
type Tracing struct {
	// OTLPEndpoint is a collector's OTLP/gRPC HOST:PORT; "": none.
	OTLPEndpoint string
	// OTLPInsecure speaks plaintext to the collector (a local one); false:
	// TLS, with the system's roots.
	OTLPInsecure bool
	// Stdout, when set, gets every span as indented JSON, as each batch is
	// flushed (and at shutdown): for a look without a collector.
	Stdout io.Writer
	// Exporter, when set, gets every span too (tests: tracetest's
	// in-memory exporter).
	Exporter sdktrace.SpanExporter
}

func (t Tracing) enabled() bool { return t.OTLPEndpoint != "" || t.Stdout != nil || t.Exporter != nil }

// newTracerProvider makes the provider of a node's spans, batching to each
// exporter Tracing names; nil when it names none.
func newTracerProvider(ctx context.Context, t Tracing, role Role, version string) (*sdktrace.TracerProvider, error) {
	if !t.enabled() {
		return nil, nil
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", "proofmill"),
		attribute.String("service.version", version),
		attribute.String("proofmill.role", role.String())))}
	if t.OTLPEndpoint != "" {
		copts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(t.OTLPEndpoint)}
		if t.OTLPInsecure {
			copts = append(copts, otlptracegrpc.WithInsecure())
		}
		// Dials lazily: a collector that is down loses spans, not the node.
		exp, err := otlptracegrpc.New(ctx, copts...)
		if err != nil {
			return nil, errcode.Errorf(errcode.Usage, "node: --otlp-endpoint %s: %w", t.OTLPEndpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	if t.Stdout != nil {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(t.Stdout), stdouttrace.WithPrettyPrint())
		if err != nil {
			return nil, fmt.Errorf("node: trace to stdout: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	if t.Exporter != nil {
		opts = append(opts, sdktrace.WithBatcher(t.Exporter))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// rpcTracing is the gRPC server option that starts each proofmill call's
// span (its name the method's, "proofmill.v1.Prover/Prove"), continuing a
// W3C traceparent the client sent; health checks and reflection make none.
func rpcTracing(tp trace.TracerProvider) grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(propagation.TraceContext{}),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			return strings.HasPrefix(info.FullMethodName, "/proofmill.")
		})))
}

// tracerProvider is the node's provider for the packages below it; nil
// when it traces nothing.
func (n *Node) tracerProvider() trace.TracerProvider {
	if n.tracer == nil {
		return nil
	}
	return n.tracer
}
