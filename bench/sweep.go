package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// sweep measures the profile's circuits and the synthetic sizes (in the
// order the profile says), each as the time left allows.
func (h *harness) sweep(ctx context.Context) error {
	if h.profile.SyntheticFirst {
		if err := h.sweepSynthetic(ctx); err != nil {
			return err
		}
		return h.sweepCircuits(ctx)
	}
	if err := h.sweepCircuits(ctx); err != nil {
		return err
	}
	return h.sweepSynthetic(ctx)
}

// circuitGrowth is how much longer the next registered circuit is expected
// to take than the one before it: the profiles list them by size, and
// abs-pool doubles twice from one to the next.
const circuitGrowth = 4.5

func (h *harness) sweepCircuits(ctx context.Context) error {
	var last time.Duration
	for i, id := range h.profile.Circuits {
		if next := time.Duration(circuitGrowth * float64(last)); h.pastDeadline() || (last > 0 && h.timeLeft() < next) {
			h.report.SweepNotes = append(h.report.SweepNotes, fmt.Sprintf(
				"%s: left out, %s of the run's time budget left, the circuit would take about %s (%.1f× %s's)",
				strings.Join(h.profile.Circuits[i:], ", "), h.timeLeft().Round(time.Second), next.Round(time.Second), circuitGrowth, h.profile.Circuits[max(i-1, 0)]))
			h.report.LeftOut = append(h.report.LeftOut, h.profile.Circuits[i:]...)
			break
		}
		sc, err := registeredCase(id)
		if err != nil {
			return err
		}
		if last, err = h.sweepOne(ctx, sc); err != nil {
			return err
		}
	}
	for _, id := range circuits.IDs() {
		if !slices.Contains(h.profile.Circuits, id) {
			h.report.SweepNotes = append(h.report.SweepNotes, fmt.Sprintf("%s: not in the %s profile", id, h.profile.Name))
		}
	}
	return nil
}

// sweepSynthetic measures the synthetic sizes until the sweep budget or the
// run's time budget would run out.
func (h *harness) sweepSynthetic(ctx context.Context) error {
	if h.profile.SyntheticMaxLog == 0 {
		return nil
	}
	start := time.Now() // the budget is the synthetic sizes'
	for logN := h.profile.SyntheticMinLog; logN <= h.profile.SyntheticMaxLog; logN++ {
		took, err := h.sweepOne(ctx, syntheticCase(logN))
		if err != nil {
			return err
		}
		if logN == h.profile.SyntheticMaxLog {
			break
		}
		// Each doubling costs a little over twice the last (FFTs are n log n).
		next := time.Duration(2.2 * float64(took))
		if b := h.profile.SweepBudget; b > 0 && time.Since(start)+next > b {
			h.report.SweepNotes = append(h.report.SweepNotes, fmt.Sprintf(
				"synthetic 2^%d…2^%d: left out, the next size would take about %s, past the %s sweep budget",
				logN+1, h.profile.SyntheticMaxLog, next.Round(time.Second), b))
			break
		}
		if !h.cfg.Deadline.IsZero() && h.timeLeft() < next {
			h.report.SweepNotes = append(h.report.SweepNotes, fmt.Sprintf(
				"synthetic 2^%d…2^%d: left out, the next size would take about %s, and %s of the run's time budget is left",
				logN+1, h.profile.SyntheticMaxLog, next.Round(time.Second), h.timeLeft().Round(time.Second)))
			for n := logN + 1; n <= h.profile.SyntheticMaxLog; n++ {
				h.report.LeftOut = append(h.report.LeftOut, syntheticID(n))
			}
			break
		}
	}
	return nil
}

// timeLeft is the time to the run's deadline; with none, a long time.
func (h *harness) timeLeft() time.Duration {
	if h.cfg.Deadline.IsZero() {
		return 1 << 62
	}
	return time.Until(h.cfg.Deadline)
}

func (h *harness) pastDeadline() bool { return h.timeLeft() <= 0 }

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

	// A device keeps each circuit's key by its id: the sweep's keys are its
	// own (made above), not the key store's the device sections prove with.
	job := hwaccel.Job{Circuit: "sweep/" + sc.id, CCS: keys.CCS, PK: keys.PK, Witness: full}
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
	var proofs []groth16.Proof
	peak, err := peakMemory(func() error {
		for range h.profile.ProveRuns {
			t := time.Now()
			res, err := b.Prove(ctx, job)
			if err != nil {
				return err
			}
			times = append(times, time.Since(t))
			proofs = append(proofs, res.Proof)
		}
		return nil
	})
	pr := Prove{Device: b.Name(), Time: summarize(times), Peak: peak}
	for _, proof := range proofs { // after the timing: a check is not the device's time
		if groth16.Verify(proof, vk, public) != nil {
			pr.Rejected++
		}
	}
	return pr, err
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
