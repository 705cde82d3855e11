package prover_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/abspool"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// benchAssignment is a valid witness for each circuit: the example input,
// or a full pool tape for abs-pool.
func benchAssignment(b *testing.B, c *circuits.Circuit) *input.Assignment {
	var capacity int
	if _, err := fmt.Sscanf(c.ID, "abs-pool-%d/", &capacity); err == nil {
		s := abspool.Sample(capacity, capacity, 1)
		if err := s.Check(); err != nil {
			b.Fatal(err)
		}
		return s.Assignment()
	}
	a, err := c.Assign(example(b, c))
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkProve compares proofmill's proving path (witness, prove, verify
// before release) with raw groth16.Prove on the same constraint system, key
// and witness. PROOFMILL_BENCH_CIRCUITS limits the circuits (comma list);
// keys come from the shared test key store and are made on first use.
//
//	go test ./prover -run '^$' -bench Prove -benchtime 5x
func BenchmarkProve(b *testing.B) {
	ids := benchIDs()
	p := testkeys.Prover(b)
	for _, id := range ids {
		c := lookup(b, id)
		k, err := p.Keys(c)
		if err != nil {
			b.Fatal(err)
		}
		a := benchAssignment(b, c)
		full, err := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
		if err != nil {
			b.Fatal(err)
		}
		constraints := float64(k.CCS.GetNbConstraints())
		b.Run(id+"/raw-gnark", func(b *testing.B) {
			for b.Loop() {
				if _, err := groth16.Prove(k.CCS, k.PK, full); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(constraints, "constraints")
		})
		st, err := c.Admit(example(b, c))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(id+"/proofmill", func(b *testing.B) {
			for b.Loop() {
				if _, err := p.ProveWitness(context.Background(), c, st.Witness); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(constraints, "constraints")
		})
	}
}

// BenchmarkAssign measures decoding a JSON input and checking its rules
// natively, the work proofmill adds in front of proving.
func BenchmarkAssign(b *testing.B) {
	for _, id := range []string{"invoice-consistency/v1", "abs-pool-16/v1"} {
		c := lookup(b, id)
		data := example(b, c)
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Assign(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadKeys measures reading a circuit's keys from the store:
// hashing every file against the manifest, then decoding the dump formats.
func BenchmarkLoadKeys(b *testing.B) {
	ids := benchIDs()
	p := testkeys.Prover(b)
	for _, id := range ids {
		if _, err := p.Keys(lookup(b, id)); err != nil { // make them if missing
			b.Fatal(err)
		}
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Store().Load(id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchIDs is $PROOFMILL_BENCH_CIRCUITS (a comma list), or every circuit.
func benchIDs() []string {
	if env := os.Getenv("PROOFMILL_BENCH_CIRCUITS"); env != "" {
		return strings.Split(env, ",")
	}
	return circuits.IDs()
}
