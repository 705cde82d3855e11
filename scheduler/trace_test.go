package scheduler_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkSubmitTracing is admission alone (decode, native check, the
// journal's write) with tracing off and on (every span made, batched,
// dropped): no gRPC. On tmpfs the journal's fsync is near free, so
// tracing's share shows. Interleave them:
//
//	for i in 1 2 3 4 5 6; do for m in off on; do TMPDIR=/dev/shm go test ./scheduler -run '^$' -bench "SubmitTracing/$m\$" -benchtime 2000x; done; done
func BenchmarkSubmitTracing(b *testing.B) {
	inputs := make([][]byte, 0, 4096)
	for i := range cap(inputs) {
		inputs = append(inputs, []byte(testinput.Invoice(b, i)))
	}
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			store, err := embedded.Open(filepath.Join(b.TempDir(), "jobs.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			cfg := scheduler.Config{MaxQueued: 1 << 20}
			if on {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
				defer tp.Shutdown(context.Background())
				cfg.Tracing = tp
			}
			s := scheduler.New(store, embedded.NewQueue(embedded.QueueConfig{}), cfg)
			defer s.Close()
			ctx := context.Background()
			i := 0
			for b.Loop() {
				req := scheduler.Request{Circuit: "invoice-consistency/v1", Input: inputs[i%len(inputs)], IdempotencyKey: "bench-" + strconv.Itoa(i)}
				i++
				if _, _, err := s.Submit(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
