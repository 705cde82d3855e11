package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
)

// sweepCase is one circuit to measure.
type sweepCase struct {
	id         string
	synthetic  bool
	circuit    frontend.Circuit // empty, for compiling
	assignment func() (frontend.Circuit, error)
}

func registeredCase(id string) (sweepCase, error) {
	c, err := circuits.Lookup(id)
	if err != nil {
		return sweepCase{}, err
	}
	return sweepCase{id: id, circuit: c.New(), assignment: func() (frontend.Circuit, error) {
		in, err := examples.Read(c.Example)
		if err != nil {
			return nil, err
		}
		a, err := c.Assign(in)
		if err != nil {
			return nil, err
		}
		return a.Witness, nil
	}}, nil
}

func syntheticCase(logN int) sweepCase {
	return sweepCase{id: syntheticID(logN), synthetic: true, circuit: &synthetic{logN: logN},
		assignment: func() (frontend.Circuit, error) { return syntheticAssignment(logN), nil }}
}

// sweep measures the profile's circuits, then the synthetic sizes until
// the budget runs out.
func (h *harness) sweep(ctx context.Context) error {
	for _, id := range h.profile.Circuits {
		sc, err := registeredCase(id)
		if err != nil {
			return err
		}
		if _, err := h.sweepOne(ctx, sc); err != nil {
			return err
		}
	}
	for _, id := range circuits.IDs() {
		if !slices.Contains(h.profile.Circuits, id) {
			h.report.SweepNotes = append(h.report.SweepNotes, fmt.Sprintf("%s: not in the %s profile", id, h.profile.Name))
		}
	}
	if h.profile.SyntheticMaxLog == 0 {
		return nil
	}
	start := time.Now() // the budget is the synthetic sizes'
	for logN := h.profile.SyntheticMinLog; logN <= h.profile.SyntheticMaxLog; logN++ {
		took, err := h.sweepOne(ctx, syntheticCase(logN))
		if err != nil {
			return err
		}
		// Each doubling costs a little over twice the last (FFTs are n log n).
		next := time.Duration(2.2 * float64(took))
		if b := h.profile.SweepBudget; b > 0 && logN < h.profile.SyntheticMaxLog && time.Since(start)+next > b {
			h.report.SweepNotes = append(h.report.SweepNotes, fmt.Sprintf(
				"synthetic 2^%d…2^%d: left out, the next size would take about %s, past the %s sweep budget",
				logN+1, h.profile.SyntheticMaxLog, next.Round(time.Second), b))
			break
		}
	}
	return nil
}

// sweepOne compiles, sets up, stores, loads, solves and proves one
// circuit, and returns how long all of that took.
func (h *harness) sweepOne(ctx context.Context, sc sweepCase) (time.Duration, error) {
	began := time.Now()
	h.logf("sweep %s", sc.id)
	fail := func(step string, err error) (time.Duration, error) {
		return 0, fmt.Errorf("bench: sweep %s: %s: %w", sc.id, step, err)
	}
	p := SweepPoint{Circuit: sc.id, Synthetic: sc.synthetic}

	t := time.Now()
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, sc.circuit)
	if err != nil {
		return fail("compile", err)
	}
	p.Compile, p.Constraints = seconds(time.Since(t)), ccs.GetNbConstraints()

	var pk groth16.ProvingKey
	var vk groth16.VerifyingKey
	p.SetupPeak, err = peakMemory(func() (err error) {
		t = time.Now()
		pk, vk, err = groth16.Setup(ccs)
		p.Setup = seconds(time.Since(t))
		return err
	})
	if err != nil {
		return fail("setup", err)
	}

	// Key load the way the service does it: hash every file, then decode.
	store := prover.KeyStore{Dir: filepath.Join(h.scratch, "keys")}
	if err := store.Save(sc.id, &prover.Keys{CCS: ccs, PK: pk, VK: vk, Manifest: prover.Manifest{Origin: prover.OriginDevelopment}}); err != nil {
		return fail("save keys", err)
	}
	ccs, pk, vk = nil, nil, nil
	t = time.Now()
	keys, err := store.Load(sc.id)
	if err != nil {
		return fail("load keys", err)
	}
	p.KeyLoad = seconds(time.Since(t))
	p.KeyBytes = dirBytes(filepath.Join(store.Dir, sc.id))
	if err := store.Remove(sc.id); err != nil {
		return fail("remove keys", err)
	}

	assignment, err := sc.assignment()
	if err != nil {
		return fail("witness", err)
	}
	full, err := frontend.NewWitness(assignment, ecc.BN254.ScalarField())
	if err != nil {
		return fail("witness", err)
	}
	public, err := full.Public()
	if err != nil {
		return fail("witness", err)
	}
	var solves []time.Duration
	for range h.profile.ProveRuns {
		t = time.Now()
		if _, err := keys.CCS.Solve(full); err != nil {
			return fail("solve", err)
		}
		solves = append(solves, time.Since(t))
	}
	p.Solve = summarize(solves)

	job := hwaccel.Job{Circuit: sc.id, CCS: keys.CCS, PK: keys.PK, Witness: full}
	for _, b := range h.backends {
		pr, err := h.proveRuns(ctx, b, job, keys.VK, public)
		if err != nil {
			return fail("prove on "+b.Name(), err)
		}
		p.Prove = append(p.Prove, pr)
	}
	h.report.Sweep = append(h.report.Sweep, p)
	return time.Since(began), nil
}

// proveRuns proves job ProveRuns times on b after one warm-up proof,
// which must verify.
func (h *harness) proveRuns(ctx context.Context, b hwaccel.Backend, job hwaccel.Job, vk groth16.VerifyingKey, public witness.Witness) (Prove, error) {
	res, err := b.Prove(ctx, job)
	if err != nil {
		return Prove{}, err
	}
	if err := groth16.Verify(res.Proof, vk, public); err != nil {
		return Prove{}, fmt.Errorf("warm-up proof does not verify: %w", err)
	}
	var times []time.Duration
	peak, err := peakMemory(func() error {
		for range h.profile.ProveRuns {
			t := time.Now()
			if _, err := b.Prove(ctx, job); err != nil {
				return err
			}
			times = append(times, time.Since(t))
		}
		return nil
	})
	return Prove{Device: b.Name(), Time: summarize(times), Peak: peak}, err
}

func dirBytes(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}
