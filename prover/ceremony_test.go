package prover

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits"
)

// cubic: x³ + x + 5 = y, the smallest circuit worth a ceremony.
type cubic struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *cubic) Define(api frontend.API) error {
	x3 := api.Mul(c.X, c.X, c.X)
	api.AssertIsEqual(api.Add(x3, c.X, 5), c.Y)
	return nil
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

var cubicCircuit = &circuits.Circuit{ID: "test-cubic/v1", New: func() frontend.Circuit { return &cubic{} }}

// runCeremony runs init, three contributions, seal, three more.
func runCeremony(t testing.TB, dir string) *Ceremony {
	t.Helper()
	cer, err := NewCeremony(dir, cubicCircuit)
	if err != nil {
		t.Fatal(err)
	}
	for phase := 1; phase <= 2; phase++ {
		for party := range 3 {
			// Each party opens the folder afresh, as on its own machine.
			c, err := OpenCeremony(dir, cubicCircuit)
			if err != nil {
				t.Fatal(err)
			}
			path, sum, err := c.Contribute()
			if err != nil {
				t.Fatalf("phase %d party %d: %v", phase, party, err)
			}
			if want := filepath.Join(dir, "phase"+string(rune('0'+phase)), "000"+string(rune('1'+party))+".bin"); path != want || len(sum) != 64 {
				t.Fatalf("contribution %s (%s), want %s", path, sum, want)
			}
		}
		if phase == 1 {
			c, _ := OpenCeremony(dir, cubicCircuit)
			if err := c.SealPhase1([]byte("phase one beacon, fixed later")); err != nil {
				t.Fatal(err)
			}
		}
	}
	cer, err = OpenCeremony(dir, cubicCircuit)
	if err != nil {
		t.Fatal(err)
	}
	return cer
}

// TestCeremonyRoundTrip: three contributors per phase; the keys prove and
// verify, the transcript verifies (twice, the same), and the keys go
// through the key store.
func TestCeremonyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cer := runCeremony(t, dir)
	beacon := []byte("phase two beacon, fixed later")
	k, err := cer.Verify(beacon)
	if err != nil {
		t.Fatal(err)
	}
	if k.Manifest.Origin != OriginCeremony || k.Manifest.Ceremony.Contributions != [2]int{3, 3} {
		t.Fatalf("manifest %+v", k.Manifest)
	}
	again, err := cer.Verify(beacon)
	if err != nil || again.Manifest.Ceremony.Transcript != k.Manifest.Ceremony.Transcript {
		t.Fatalf("a second verification: %v", err)
	}

	good, _ := frontend.NewWitness(&cubic{X: 3, Y: 35}, ecc.BN254.ScalarField())
	proof, err := groth16.Prove(k.CCS, k.PK, good)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := good.Public()
	if err := groth16.Verify(proof, k.VK, public); err != nil {
		t.Fatalf("a proof with ceremony keys does not verify: %v", err)
	}
	wrong, _ := frontend.NewWitness(&cubic{X: 3, Y: 36}, ecc.BN254.ScalarField(), frontend.PublicOnly())
	if err := groth16.Verify(proof, k.VK, wrong); err == nil {
		t.Fatal("a proof verified for another public input")
	}

	store := KeyStore{Dir: t.TempDir()}
	if err := store.Save(cubicCircuit.ID, k); err != nil {
		t.Fatal(err)
	}
	back, err := store.Load(cubicCircuit.ID)
	if err != nil || back.Manifest.Origin != OriginCeremony || back.Manifest.Ceremony.Transcript != k.Manifest.Ceremony.Transcript {
		t.Fatalf("loaded %+v %v", back, err)
	}
}

// TestCeremonyRejectsTampering changes one file at a time.
func TestCeremonyRejectsTampering(t *testing.T) {
	base := t.TempDir()
	runCeremony(t, base)
	for _, tc := range []struct {
		name, file string
		edit       func([]byte) []byte
	}{
		{"a point in a phase-2 contribution", "phase2/0002.bin", func(b []byte) []byte { b[40] ^= 1; return b }},
		{"a point in a phase-1 contribution", "phase1/0002.bin", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"phase 1's domain size, huge", "phase1/0001.bin", func(b []byte) []byte {
			copy(b[phase1DomainAt:], []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			return b
		}},
		{"a length field in phase 2, huge", "phase2/0001.bin", func(b []byte) []byte { copy(b[34:], []byte{0xff, 0xff, 0xff, 0xff}); return b }},
		{"a truncated file", "phase2/0003.bin", func(b []byte) []byte { return b[:len(b)-100] }},
		{"srs.bin", "srs.bin", func(b []byte) []byte { b[len(b)-10] ^= 1; return b }},
		{"the phase-2 starting point", "phase2/0000.bin", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.edit(data), 0o644); err != nil {
				t.Fatal(err)
			}
			cer, err := OpenCeremony(dir, cubicCircuit)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cer.Verify([]byte("phase two beacon, fixed later")); !errors.Is(err, ErrCeremony) {
				t.Fatalf("verified a ceremony with %s changed: %v", tc.name, err)
			}
		})
	}
}

func TestCeremonyOrder(t *testing.T) {
	dir := t.TempDir()
	cer, err := NewCeremony(dir, cubicCircuit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCeremony(dir, cubicCircuit); !errors.Is(err, ErrCeremony) {
		t.Fatalf("a second init: %v", err)
	}
	if err := cer.SealPhase1([]byte("beacon")); !errors.Is(err, ErrCeremony) {
		t.Fatalf("sealed with no contribution: %v", err)
	}
	if _, err := cer.Verify([]byte("beacon")); !errors.Is(err, ErrCeremony) {
		t.Fatalf("verified in phase 1: %v", err)
	}
	other := &circuits.Circuit{ID: "other/v1", New: cubicCircuit.New}
	if _, err := OpenCeremony(dir, other); !errors.Is(err, ErrCeremony) {
		t.Fatalf("opened for another circuit: %v", err)
	}
}

func TestProductionRefusesDevelopmentKeys(t *testing.T) {
	store := KeyStore{Dir: t.TempDir()}
	k, err := Setup(cubicCircuit, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(cubicCircuit.ID, k); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Store: store, DevSetup: true, Production: true, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Keys(cubicCircuit); !errors.Is(err, ErrDevelopmentKeys) {
		t.Fatalf("production loaded development keys: %v", err)
	}
	other := &circuits.Circuit{ID: "test-cubic-2/v1", New: cubicCircuit.New}
	if _, err := p.Keys(other); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("production made development keys: %v", err)
	}
}
