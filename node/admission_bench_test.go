package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// BenchmarkAdmission is SubmitProof as a client sees it: a separate
// `serve --workers none` process (embedded journal, or Redis), 16
// concurrent callers on one connection, each submission a distinct
// invoice, against the gRPC health check (the RPC's own ceiling here) and
// ListCircuits (a small read the issue measured as its ceiling) in the
// same run, interleaved round by round.
//
//	go test ./node -run '^$' -bench Admission -benchtime 1x
func BenchmarkAdmission(b *testing.B) {
	const (
		concurrency = 16
		rounds      = 3
		window      = 3 * time.Second
	)
	c, err := circuits.Lookup("invoice-consistency/v1")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := testkeys.Prover(b).Keys(c); err != nil { // the server admits only circuits with keys
		b.Fatal(err)
	}
	inputs := make([]string, 0, 40_000)
	for i := range cap(inputs) {
		inputs = append(inputs, testinput.Invoice(b, 1_000_000+i))
	}
	for _, backend := range []string{"embedded", "redis"} {
		b.Run(backend, func(b *testing.B) {
			args := []string{"serve", "--workers", "none", "--metrics", "", "--data", b.TempDir(), "--keys", testkeys.Dir(),
				"--preload", "none", "--dev-setup=false", "--max-queued", "1000000"}
			if backend == "redis" {
				args = append(args, "--redis", redistest.Start(b).Addr)
			}
			addr := proctest.FreeAddr(b)
			p := proctest.Start(b, "server", append(append(args, "--listen", addr), proctest.ServiceKeyFlags(b)...)...)
			cl := proctest.Dial(b, p, addr)
			ctx := context.Background()
			var next atomic.Int64
			submit := func(ctx context.Context) error {
				k := next.Add(1)
				_, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: inputs[int(k)%len(inputs)],
					IdempotencyKey: fmt.Sprintf("admission-%s-%d", backend, k)})
				return err
			}
			noop := func(ctx context.Context) error { return cl.Health(ctx) }
			list := func(ctx context.Context) error { _, err := cl.Circuits(ctx); return err }
			var subRate, noopRate, listRate []float64
			var subLat []time.Duration
			for b.Loop() {
				for range rounds {
					n, _ := drive(b, ctx, concurrency, window, noop)
					noopRate = append(noopRate, n)
					n, _ = drive(b, ctx, concurrency, window, list)
					listRate = append(listRate, n)
					n, lat := drive(b, ctx, concurrency, window, submit)
					subRate = append(subRate, n)
					subLat = append(subLat, lat...)
				}
			}
			slices.Sort(subLat)
			sub, no := median(subRate), median(noopRate)
			b.ReportMetric(sub, "submits/s")
			b.ReportMetric(no, "noop/s")
			b.ReportMetric(sub/no, "submit/noop")
			b.ReportMetric(median(listRate), "listcircuits/s")
			b.ReportMetric(sub/median(listRate), "submit/listcircuits")
			b.ReportMetric(float64(subLat[len(subLat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(subLat[len(subLat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// drive calls one from conc goroutines for the window and returns the
// completed calls per second and their latencies.
func drive(b *testing.B, ctx context.Context, conc int, window time.Duration, one func(context.Context) error) (float64, []time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if err := one(ctx); err != nil {
					// A call the window's end cut short (gRPC's deadline
					// may fire just before ctx's own) is not a failure.
					if c := status.Code(err); ctx.Err() == nil && c != codes.DeadlineExceeded && c != codes.Canceled {
						b.Error(err)
					}
					break
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(len(lat)) / time.Since(start).Seconds(), lat
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
