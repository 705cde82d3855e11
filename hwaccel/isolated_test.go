package hwaccel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// The test binary doubles as the device worker: with HWACCEL_CHILD set to
// a Fault mode it serves the isolated-device protocol on stdin/stdout, with
// the keys the parent wrote to HWACCEL_KEYS.
func TestMain(m *testing.M) {
	if mode := os.Getenv("HWACCEL_CHILD"); mode != "" {
		dir := os.Getenv("HWACCEL_KEYS")
		keys := func(string) (KeyPair, error) {
			k := KeyPair{CCS: groth16.NewCS(ecc.BN254), PK: groth16.NewProvingKey(ecc.BN254)}
			for path, v := range map[string]io.ReaderFrom{"ccs": k.CCS, "pk": k.PK} {
				f, err := os.Open(filepath.Join(dir, path))
				if err != nil {
					return k, err
				}
				_, err = v.ReadFrom(f)
				f.Close()
				if err != nil {
					return k, err
				}
			}
			return k, nil
		}
		b, dev, _ := openFault(mode, DeviceOptions{})
		if err := ServeIsolated(context.Background(), os.Stdin, os.Stdout, b, dev, keys); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type cubeKeys struct {
	dir string
	ccs constraint.ConstraintSystem
	pk  groth16.ProvingKey
	vk  groth16.VerifyingKey
}

func newCubeKeys(t *testing.T) cubeKeys {
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &cube{})
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, v := range map[string]io.WriterTo{"ccs": ccs, "pk": pk} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return cubeKeys{dir, ccs, pk, vk}
}

func (k cubeKeys) job(t *testing.T) Job {
	w, _ := frontend.NewWitness(&cube{X: 3, Y: 27}, ecc.BN254.ScalarField())
	return Job{Circuit: "cube", CCS: k.ccs, PK: k.pk, Witness: w}
}

var errRejected = errors.New("the proof does not verify")

// proveChecked proves on b and verifies the proof as the prover does,
// telling the device the outcome.
func (k cubeKeys) proveChecked(t *testing.T, b Backend) (Result, error) {
	job := k.job(t)
	res, err := b.Prove(t.Context(), job)
	if err != nil {
		return res, err
	}
	public, _ := job.Witness.Public()
	ok := groth16.Verify(res.Proof, k.vk, public) == nil
	if res.Verified != nil {
		res.Verified(ok)
	}
	if !ok {
		return res, errRejected
	}
	return res, nil
}

func startDevice(t *testing.T, k cubeKeys, mode string) *Isolated {
	return startDeviceTimeout(t, k, mode, 2*time.Second)
}

// startDeviceTimeout is startDevice with the device's ProofTimeout.
func startDeviceTimeout(t *testing.T, k cubeKeys, mode string, proofTimeout time.Duration) *Isolated {
	d := NewIsolated(IsolatedConfig{
		Device: "fault:" + mode,
		Command: func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "HWACCEL_CHILD="+mode, "HWACCEL_KEYS="+k.dir)
			return cmd
		},
		StartTimeout: 20 * time.Second, ProofTimeout: proofTimeout, MaxFailures: 2, Cooldown: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d
}

// Every way a device worker fails is a DeviceError naming it; the
// supervisor restarts the worker; repeated failures make the device
// unhealthy, and it then refuses jobs without touching the worker.
func TestIsolatedDeviceFaults(t *testing.T) {
	k := newCubeKeys(t)
	for _, tc := range []struct{ mode, reason string }{
		{"panic", "crashed"}, {"abort", "crashed"}, {"hang", "hung"}, {"corrupt", "rejected"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			d := startDevice(t, k, tc.mode)
			for i := range 2 {
				_, err := k.proveChecked(t, d)
				var de *DeviceError
				switch {
				case tc.reason == "rejected" && !errors.Is(err, errRejected):
					t.Fatalf("attempt %d: %v, want a proof that fails verification", i, err)
				case tc.reason != "rejected" && (!errors.As(err, &de) || de.Reason != tc.reason || !errors.Is(err, ErrDevice)):
					t.Fatalf("attempt %d: %v, want a %q DeviceError", i, err, tc.reason)
				}
			}
			st := d.Status()
			if st.Healthy || st.Failures != 2 {
				t.Fatalf("after 2 failures: %+v", st)
			}
			_, err := d.Prove(t.Context(), k.job(t))
			var de *DeviceError
			if !errors.As(err, &de) || de.Reason != "unhealthy" {
				t.Fatalf("an unhealthy device took a job: %v", err)
			}
			if tc.reason != "rejected" { // the crashed or killed worker was restarted
				waitFor(t, func() bool { s := d.Status(); return s.Restarts >= 1 })
			}
		})
	}
}

func TestIsolatedDeviceProves(t *testing.T) {
	k := newCubeKeys(t)
	d := startDevice(t, k, "ok")
	for range 3 {
		res, err := k.proveChecked(t, d)
		if err != nil || res.Device != "fault:ok" {
			t.Fatalf("%s: %v", res.Device, err)
		}
	}
	if st := d.Status(); !st.Up || !st.Healthy || st.Proofs != 3 || st.Restarts != 0 || st.Name != "fault injection: ok" {
		t.Fatalf("status %+v", st)
	}
	// A false statement is the statement's fault, not the device's.
	bad, _ := frontend.NewWitness(&cube{X: 3, Y: 28}, ecc.BN254.ScalarField())
	job := k.job(t)
	job.Witness = bad
	if _, err := d.Prove(t.Context(), job); err == nil || errors.Is(err, ErrDevice) {
		t.Fatalf("false statement: %v", err)
	}
	if st := d.Status(); st.Failures != 0 {
		t.Fatalf("a false statement counted against the device: %+v", st)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for start := time.Now(); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("timed out")
		}
	}
}

// Devices sends jobs past an unhealthy device to a usable one.
func TestDevicesPreferUsable(t *testing.T) {
	k := newCubeKeys(t)
	bad, good := startDevice(t, k, "abort"), startDevice(t, k, "ok")
	for range 2 { // make bad unhealthy
		bad.Prove(t.Context(), k.job(t))
	}
	p := NewDevices([]*Isolated{bad, good})
	for range 4 {
		if res, err := k.proveChecked(t, p); err != nil || res.Device != "fault:ok" {
			t.Fatalf("a usable device was free: %s %v", res.Device, err)
		}
	}
	if good.Status().Proofs != 4 || p.Name() != "fault" {
		t.Fatalf("good device proved %d of 4", good.Status().Proofs)
	}
}

// A proof whose context ends is stopped for real: its worker process is
// killed (gone, not only abandoned), the device is free at once and counts
// no failure, and a fresh worker starts.
func TestIsolatedCancelKillsTheWorker(t *testing.T) {
	k := newCubeKeys(t)
	d := startDeviceTimeout(t, k, "hang", time.Hour) // only a kill ends its proof
	waitFor(t, func() bool { return d.Status().Up })
	pid := d.Status().PID
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := d.Prove(ctx, k.job(t)); errc <- err }()
	waitFor(t, func() bool { return d.Status().Busy })
	time.Sleep(100 * time.Millisecond) // the request is with the worker
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-errc:
		t.Logf("Prove returned %s after the cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled proof did not stop")
	}
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDevice) {
		t.Fatalf("cancelled proof: %v, want context.Canceled and no device error", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("worker %d still exists after the cancel: %v", pid, err)
	}
	if st := d.Status(); st.Busy || st.Failures != 0 || !st.Healthy {
		t.Fatalf("after a cancel: %+v", st)
	}
	waitFor(t, func() bool { st := d.Status(); return st.Up && st.PID != pid && st.Restarts == 1 })
}
