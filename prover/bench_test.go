package prover_test

import (
	"context"
	"fmt"
	"log/slog"
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
	"github.com/proofmill/proofmill/prover"
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
	ids := benchIDs(b)
	p := testkeys.Prover(b)
	for _, id := range ids {
		c := lookup(b, id)
		k := benchKeys(b, p, c)
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
	ids := benchIDs(b)
	p := testkeys.Prover(b)
	for _, id := range ids {
		benchKeys(b, p, lookup(b, id)) // make them if missing
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Store().Load(id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchIDs is $PROOFMILL_BENCH_CIRCUITS (a comma list), or every circuit
// whose keys are made without asking: not one above
// circuits.ImplicitKeysLimit (abs-pool-4096), whose setup alone takes many
// minutes and gigabytes; name it in the list to measure it.
func benchIDs(b *testing.B) []string {
	if env := os.Getenv("PROOFMILL_BENCH_CIRCUITS"); env != "" {
		return strings.Split(env, ",")
	}
	var ids []string
	for _, c := range circuits.All() {
		if c.KeysOnlyWhenAsked() {
			b.Logf("%s: left out, its keys are made only when asked (PROOFMILL_BENCH_CIRCUITS=%s)", c.ID, c.ID)
			continue
		}
		ids = append(ids, c.ID)
	}
	return ids
}

// benchKeys returns c's keys from the shared store, making them if missing:
// by asking for them (SetupKeys) for a circuit named in
// PROOFMILL_BENCH_CIRCUITS that DevSetup leaves alone.
func benchKeys(b *testing.B, p *prover.Prover, c *circuits.Circuit) *prover.Keys {
	if c.KeysOnlyWhenAsked() {
		if _, _, err := prover.SetupKeys(p.Store(), c, false, slog.Default()); err != nil {
			b.Fatal(err)
		}
	}
	k, err := p.Keys(c)
	if err != nil {
		b.Fatal(err)
	}
	return k
}
