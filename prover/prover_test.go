package prover_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
)

func example(t testing.TB, c *circuits.Circuit) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", c.Example))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func lookup(t testing.TB, id string) *circuits.Circuit {
	t.Helper()
	c, err := circuits.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Each small circuit proves its example; the proof file round-trips and
// verifies against the store, and tampering with it is caught.
func TestProveAndVerifyFile(t *testing.T) {
	p := testkeys.Prover(t)
	for _, id := range []string{"invoice-consistency/v1", "abs-pool-16/v1"} {
		t.Run(id, func(t *testing.T) {
			c := lookup(t, id)
			proof, err := p.Prove(context.Background(), c, example(t, c))
			if err != nil {
				t.Fatal(err)
			}
			f, err := proof.File()
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(f)
			if _, err := p.VerifyFile(data); err != nil {
				t.Fatalf("verify own proof: %v", err)
			}

			tampered := *f
			tampered.PublicSignals = append([]string(nil), f.PublicSignals...)
			tampered.PublicInputs = append([]prover.NamedValue(nil), f.PublicInputs...)
			tampered.PublicSignals[1] = "7"
			tampered.PublicInputs[1].Value = "7"
			data, _ = json.Marshal(&tampered)
			if _, err := p.VerifyFile(data); !errors.Is(err, prover.ErrProofRejected) {
				t.Fatalf("tampered public input: got %v, want ErrProofRejected", err)
			}

			inconsistent := *f
			inconsistent.PublicInputs = tampered.PublicInputs
			data, _ = json.Marshal(&inconsistent)
			if _, err := p.VerifyFile(data); !errors.Is(err, prover.ErrBadProofFile) {
				t.Fatalf("named inputs disagreeing with signals: got %v, want ErrBadProofFile", err)
			}

			otherKey := *f
			otherKey.VerifyingKeySHA256 = strings.Repeat("0", 64)
			data, _ = json.Marshal(&otherKey)
			if _, err := p.VerifyFile(data); !errors.Is(err, prover.ErrProofRejected) {
				t.Fatalf("other verifying key: got %v, want ErrProofRejected", err)
			}
		})
	}
}

// corruptBackend proves, then corrupts the proof, as a failing device
// might; it keeps what the prover told it of each proof.
type corruptBackend struct {
	hwaccel.CPU
	verdicts *[]bool
}

func (corruptBackend) Name() string { return "corrupt" }

func (b corruptBackend) Prove(ctx context.Context, job hwaccel.Job) (hwaccel.Result, error) {
	res, err := b.CPU.Prove(ctx, job)
	if err != nil {
		return res, err
	}
	p := res.Proof.(*groth16bn254.Proof)
	p.Ar, p.Krs = p.Krs, p.Ar
	res.Device = "corrupt"
	if b.verdicts != nil {
		res.Verified = func(ok bool) { *b.verdicts = append(*b.verdicts, ok) }
	}
	return res, nil
}

// crashingBackend fails as a device does.
type crashingBackend struct{}

func (crashingBackend) Name() string { return "cuda:7" }
func (crashingBackend) Prove(context.Context, hwaccel.Job) (hwaccel.Result, error) {
	return hwaccel.Result{}, &hwaccel.DeviceError{Device: "cuda:7", Reason: "crashed"}
}

// refusingBackend fails as gnark does when the witness breaks a
// constraint: its message shows values of the witness.
type refusingBackend struct{}

func (refusingBackend) Name() string { return "cpu" }
func (refusingBackend) Prove(context.Context, hwaccel.Job) (hwaccel.Result, error) {
	return hwaccel.Result{}, errors.New("constraint #7 is not satisfied: 6215087815076330926179520016461010917137519558660815034878824735059242618923 ⋅ 1 != 0")
}

// A statement the circuit refuses although its rules hold natively is an
// unsatisfied statement, and the solver's values stay out of the error.
func TestCircuitRefusalWithholdsValues(t *testing.T) {
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: testkeys.Dir()}, DevSetup: true, Backend: refusingBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	c := lookup(t, "invoice-consistency/v1")
	_, err = p.Prove(context.Background(), c, example(t, c))
	if errcode.Of(err) != errcode.Unsatisfied || strings.Contains(err.Error(), "6215087815") {
		t.Fatalf("refusal: %v", err)
	}
}

// A device that crashes, or whose proof does not verify, hands the job to
// the CPU, and the move is reported.
func TestDeviceFailuresFallBackToCPU(t *testing.T) {
	for _, tc := range []struct {
		backend        hwaccel.Backend
		device, reason string
	}{{corruptBackend{}, "corrupt", "rejected"}, {crashingBackend{}, "cuda:7", "crashed"}} {
		var moved []string
		p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: testkeys.Dir()}, DevSetup: true, Backend: tc.backend,
			OnFallback: func(device, reason string) { moved = append(moved, device+"/"+reason) }})
		if err != nil {
			t.Fatal(err)
		}
		c := lookup(t, "invoice-consistency/v1")
		proof, err := p.Prove(context.Background(), c, example(t, c))
		if err != nil || proof.Backend != "cpu" {
			t.Fatalf("%s: %v %v", tc.device, proof, err)
		}
		if len(moved) != 1 || moved[0] != tc.device+"/"+tc.reason {
			t.Fatalf("fallbacks reported: %v", moved)
		}
	}
}

// A proof that fails verification is never returned, and the device that
// made it is told.
func TestCorruptProofIsWithheld(t *testing.T) {
	var verdicts []bool
	b := corruptBackend{verdicts: &verdicts}
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: testkeys.Dir()}, DevSetup: true, Backend: b, Fallback: b})
	if err != nil {
		t.Fatal(err)
	}
	c := lookup(t, "invoice-consistency/v1")
	proof, err := p.Prove(context.Background(), c, example(t, c))
	if !errors.Is(err, prover.ErrProofRejected) || proof != nil || errcode.Of(err) != errcode.ProofRejected {
		t.Fatalf("got proof %v, err %v; want ErrProofRejected and no proof", proof, err)
	}
	if len(verdicts) != 1 || verdicts[0] {
		t.Fatalf("the device was told %v", verdicts)
	}
}

// A stored witness of the wrong shape (another circuit's, truncated, or
// with counts that would make gnark allocate without bound) is refused
// before it is decoded.
func TestProveWitnessChecksItsShape(t *testing.T) {
	p := testkeys.Prover(t)
	c := lookup(t, "invoice-consistency/v1")
	st, err := c.Admit(example(t, c))
	if err != nil {
		t.Fatal(err)
	}
	proof, err := p.ProveWitness(context.Background(), c, st.Witness)
	if err != nil || len(proof.PublicInputs) != len(c.PublicInputs) || proof.PublicInputs[0].Name != c.PublicInputs[0] {
		t.Fatalf("the admitted witness: %v %v", proof, err)
	}
	for i, pub := range st.Public {
		if proof.PublicInputs[i].Value != pub.Value.String() {
			t.Fatalf("public input %s: proved %s, admitted %s", pub.Name, proof.PublicInputs[i].Value, pub.Value)
		}
	}
	pool := lookup(t, "abs-pool-16/v1")
	other, err := pool.Admit(example(t, pool))
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte(nil), st.Witness...)
	huge[4], huge[5] = 0x7f, 0xff // the secret count
	badLength := append([]byte(nil), st.Witness...)
	badLength[11]++ // the vector's length
	for name, w := range map[string][]byte{"another circuit's": other.Witness, "truncated": st.Witness[:len(st.Witness)-1], "huge count": huge, "vector length": badLength, "empty": nil} {
		if _, err := p.ProveWitness(context.Background(), c, w); errcode.Of(err) != errcode.CorruptRecord || !strings.Contains(err.Error(), "witness") {
			t.Errorf("%s witness: %v", name, err)
		}
	}
}

// Bad input reaches the caller as its own error kind, before any proving.
func TestProveRejectsBadInput(t *testing.T) {
	p := testkeys.Prover(t)
	c := lookup(t, "invoice-consistency/v1")
	good := string(example(t, c))
	for _, tc := range []struct {
		json string
		kind error
	}{
		{`{`, input.ErrMalformed},
		{strings.Replace(good, `"quantity": 1200,`, `"quantity": 1100,`, 1), input.ErrUnsatisfied},
		{strings.Replace(good, `"currency": 840,`, `"currency": 65536,`, 1), input.ErrOutOfRange},
	} {
		if _, err := p.Prove(context.Background(), c, []byte(tc.json)); !errors.Is(err, tc.kind) {
			t.Errorf("got %v, want %v", err, tc.kind)
		}
	}
}

// A cancelled context stops a proof before it starts.
func TestProveHonoursCancelledContext(t *testing.T) {
	p := testkeys.Prover(t)
	c := lookup(t, "invoice-consistency/v1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Prove(ctx, c, example(t, c)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// Concurrent first uses share one key load.
func TestKeysLoadedOnce(t *testing.T) {
	p := testkeys.Prover(t)
	c := lookup(t, "invoice-consistency/v1")
	results := make(chan *prover.Keys, 4)
	for range 4 {
		go func() {
			k, err := p.Keys(c)
			if err != nil {
				t.Error(err)
			}
			results <- k
		}()
	}
	first := <-results
	for range 3 {
		if k := <-results; k != first {
			t.Fatal("keys loaded more than once")
		}
	}
}

// DevSetup makes no keys for a circuit above circuits.ImplicitKeysLimit
// (abs-pool-4096): loading, readiness and status all say ErrNoKeys and name
// the command that makes them, at once, and nothing is written to the store.
func TestDevSetupLeavesLargeCircuitsAlone(t *testing.T) {
	c := lookup(t, "abs-pool-4096/v1")
	if !c.KeysOnlyWhenAsked() {
		t.Fatalf("%s: %d constraints, not above %d", c.ID, c.Constraints, circuits.ImplicitKeysLimit)
	}
	dir := t.TempDir()
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: dir}, DevSetup: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "keys setup --circuit abs-pool-4096/v1"
	if err := p.KeysStatus(c); !errors.Is(err, prover.ErrNoKeys) || !strings.Contains(err.Error(), want) {
		t.Fatalf("KeysStatus: %v", err)
	}
	if err := p.Ready(c); !errors.Is(err, prover.ErrNoKeys) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Ready: %v", err)
	}
	if _, err := p.Prove(context.Background(), c, example(t, c)); !errors.Is(err, prover.ErrNoKeys) {
		t.Fatalf("Prove: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the key store was written: %v", entries)
	}
	// A small circuit without keys is still one DevSetup will make.
	if err := p.KeysStatus(lookup(t, "abs-pool-16/v1")); err != nil {
		t.Fatalf("abs-pool-16: %v", err)
	}
}
