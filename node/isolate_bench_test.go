package node_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/prover"
)

// BenchmarkIsolatedCPU is what --isolate-cpu costs per proof: each
// iteration proves and verifies one statement (prover.ProveWitness, as a
// worker slot does) once in this process and once in a supervised worker
// process, in turns, so that a busy machine slows both alike. It reports
// each side's mean and the median of the iterations' isolated/in-process
// ratios. The first proof of each (the child's key load) is untimed.
//
//	go test ./node -run '^$' -bench IsolatedCPU -benchtime 20x
func BenchmarkIsolatedCPU(b *testing.B) {
	for _, tc := range []struct {
		circuit string
		input   func(testing.TB, int) string
	}{
		{"invoice-consistency/v1", testinput.Invoice},
		{"abs-pool-64/v1", testinput.Pool},
	} {
		c, _ := circuits.Lookup(tc.circuit)
		name, _, _ := strings.Cut(c.ID, "/")
		b.Run(name, func(b *testing.B) {
			st, err := c.Admit([]byte(tc.input(b, 0)))
			if err != nil {
				b.Fatal(err)
			}
			sides := []*prover.Prover{testkeys.Prover(b), isolatedProver(b)}
			for _, p := range sides { // untimed: keys loaded on both sides
				if _, err := p.ProveWitness(b.Context(), c, st.Witness); err != nil {
					b.Fatal(err)
				}
			}
			var took [2]time.Duration
			var ratios []float64
			for i := 0; b.Loop(); i++ {
				var this [2]time.Duration
				for k := range 2 {
					side := (i + k) % 2 // alternate which goes first
					start := time.Now()
					if _, err := sides[side].ProveWitness(b.Context(), c, st.Witness); err != nil {
						b.Fatal(err)
					}
					this[side] = time.Since(start)
				}
				took[0] += this[0]
				took[1] += this[1]
				ratios = append(ratios, float64(this[1])/float64(this[0]))
			}
			slices.Sort(ratios)
			b.ReportMetric(float64(took[0].Milliseconds())/float64(b.N), "in-process-ms/proof")
			b.ReportMetric(float64(took[1].Milliseconds())/float64(b.N), "isolated-ms/proof")
			b.ReportMetric(float64(took[1])/float64(took[0]), "isolated/in-process")
			b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
		})
	}
}

// isolatedProver proves in one supervised CPU worker process.
func isolatedProver(b *testing.B) *prover.Prover {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ds, err := node.StartIsolatedCPUs(node.Config{Executable: proctest.Binary(b), KeysDir: testkeys.Dir(), Logger: quiet}, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ds[0].Shutdown(ctx)
	})
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: testkeys.Dir()}, Backend: hwaccel.NewDevices(ds), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	return p
}
