package prover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/hwaccel"
)

// ErrProofRejected: a proof failed verification and was withheld.
var ErrProofRejected = errors.New("proof failed verification")

// DevelopmentKeyWarning is shown wherever development keys are used.
const DevelopmentKeyWarning = "development keys: made by groth16.Setup on this machine; whoever ran the setup can forge proofs. Use keys from an MPC ceremony in production"

// Config configures a Prover. The zero value proves on the CPU with the
// default key store and never runs a setup.
type Config struct {
	Store   KeyStore        // zero Dir: DefaultKeyDir()
	Backend hwaccel.Backend // nil: hwaccel.CPU
	// Fallback re-proves a job when Backend fails (hwaccel.ErrDevice) or
	// its proof does not verify. Nil means hwaccel.CPU, unless Backend is
	// the CPU already.
	Fallback hwaccel.Backend
	// OnFallback, when set, is told each time a job moves to Fallback, and
	// why (a hwaccel.DeviceError reason, or "rejected"): for metrics.
	OnFallback func(device, reason string)
	// DevSetup makes a missing circuit's keys with groth16.Setup (development
	// keys) and saves them, instead of failing with ErrNoKeys.
	DevSetup bool
	// Production refuses keys that did not come from a ceremony (and
	// makes none).
	Production bool
	Logger     *slog.Logger // nil: slog.Default()
}

// Prover proves and verifies registered circuits. It loads each circuit's
// keys once and shares them between calls; it is safe for concurrent use.
type Prover struct {
	store      KeyStore
	backend    hwaccel.Backend
	fallback   hwaccel.Backend // nil: none
	onFall     func(device, reason string)
	devSetup   bool
	production bool
	log        *slog.Logger

	mu   sync.Mutex
	keys map[string]func() (*Keys, error)
}

// New returns a Prover for cfg.
func New(cfg Config) (*Prover, error) {
	if cfg.Store.Dir == "" {
		dir, err := DefaultKeyDir()
		if err != nil {
			return nil, err
		}
		cfg.Store.Dir = dir
	}
	if cfg.Backend == nil {
		cfg.Backend = hwaccel.CPU{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fallback == nil && cfg.Backend.Name() != (hwaccel.CPU{}).Name() {
		cfg.Fallback = hwaccel.CPU{}
	}
	if cfg.OnFallback == nil {
		cfg.OnFallback = func(string, string) {}
	}
	if cfg.Production {
		if err := refuseDevelopmentKeys(cfg.Store); err != nil {
			return nil, err
		}
	}
	return &Prover{store: cfg.Store, backend: cfg.Backend, fallback: cfg.Fallback, onFall: cfg.OnFallback, devSetup: cfg.DevSetup && !cfg.Production, production: cfg.Production, log: cfg.Logger,
		keys: map[string]func() (*Keys, error){}}, nil
}

// Store returns the prover's key store.
func (p *Prover) Store() KeyStore { return p.store }

// Keys returns a circuit's keys, loading them (or, with DevSetup, making
// them) on first use. Concurrent callers share one load.
func (p *Prover) Keys(c *circuits.Circuit) (*Keys, error) {
	p.mu.Lock()
	load, ok := p.keys[c.ID]
	if !ok {
		load = sync.OnceValues(func() (*Keys, error) { return p.loadOrSetup(c) })
		p.keys[c.ID] = load
	}
	p.mu.Unlock()
	k, err := load()
	if err != nil {
		p.mu.Lock()
		delete(p.keys, c.ID) // let a later call retry, e.g. after `keys setup`
		p.mu.Unlock()
	}
	return k, err
}

func (p *Prover) loadOrSetup(c *circuits.Circuit) (*Keys, error) {
	start := time.Now()
	k, err := p.store.Load(c.ID)
	if errors.Is(err, ErrNoKeys) && p.devSetup {
		if k, err = Setup(c, p.log); err != nil {
			return nil, err
		}
		if err = p.store.Save(c.ID, k); errors.Is(err, ErrKeysExist) {
			k, err = p.store.Load(c.ID)
		}
	} else if err == nil && p.production && k.Manifest.Origin != OriginCeremony {
		return nil, fmt.Errorf("prover: %s: %w: its keys are of origin %q; import keys from a ceremony (proofmill keys import)", c.ID, ErrDevelopmentKeys, k.Manifest.Origin)
	} else if err == nil && k.Manifest.Origin == OriginDevelopment {
		p.log.Warn(DevelopmentKeyWarning, "circuit", c.ID)
	}
	if err != nil {
		return nil, err
	}
	p.log.Info("keys loaded", "circuit", c.ID, "constraints", k.Manifest.Constraints, "took", time.Since(start).Round(time.Millisecond))
	return k, nil
}

// refuseDevelopmentKeys fails if the store holds keys of a registered
// circuit that did not come from a ceremony: production fails at start,
// not at a circuit's first job.
func refuseDevelopmentKeys(store KeyStore) error {
	var bad []string
	for _, c := range circuits.All() {
		if m, err := store.Manifest(c.ID); err == nil && m.Origin != OriginCeremony {
			bad = append(bad, c.ID)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("prover: %w: %s (remove them, or import ceremony keys with keys import --force)",
			ErrDevelopmentKeys, strings.Join(bad, ", "))
	}
	return nil
}

// Setup compiles a circuit and runs a development Groth16 setup for it.
func Setup(c *circuits.Circuit, log *slog.Logger) (*Keys, error) {
	ccs, err := Compile(c)
	if err != nil {
		return nil, err
	}
	log.Warn("running groth16.Setup: "+DevelopmentKeyWarning, "circuit", c.ID, "constraints", ccs.GetNbConstraints())
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		return nil, fmt.Errorf("prover: setup %s: %w", c.ID, err)
	}
	return &Keys{CCS: ccs, PK: pk, VK: vk, Manifest: Manifest{Origin: OriginDevelopment, Created: time.Now().UTC()}}, nil
}

// Proof is a verified proof and the statement it proves.
type Proof struct {
	Circuit          *circuits.Circuit
	Proof            groth16.Proof
	Public           witness.Witness
	PublicInputs     []input.PublicInput
	VerifyingKeyHash string
	Backend          string
	Took             time.Duration
}

// Prove decodes a JSON input, checks its rules natively, proves it, and
// verifies the proof before returning it. Errors from the input match the
// input.Err* kinds; a statement the circuit rejects matches
// input.ErrUnsatisfied.
func (p *Prover) Prove(ctx context.Context, c *circuits.Circuit, data []byte) (*Proof, error) {
	a, err := c.Assign(data)
	if err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err)
	}
	return p.ProveAssignment(ctx, c, a)
}

// ProveAssignment proves an already checked assignment.
func (p *Prover) ProveAssignment(ctx context.Context, c *circuits.Circuit, a *input.Assignment) (*Proof, error) {
	k, err := p.Keys(c)
	if err != nil {
		return nil, err
	}
	full, err := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("prover: %s: witness: %w", c.ID, err)
	}
	public, err := full.Public()
	if err != nil {
		return nil, fmt.Errorf("prover: %s: public witness: %w", c.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err) // Prove cannot be interrupted once started
	}
	start := time.Now()
	job := hwaccel.Job{Circuit: c.ID, CCS: k.CCS, PK: k.PK, VK: k.VK, Witness: full}
	proof, backend, err := p.proveVerified(ctx, job, public, p.backend)
	if err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err)
	}
	took := time.Since(start)
	return &Proof{Circuit: c, Proof: proof, Public: public, PublicInputs: a.Public,
		VerifyingKeyHash: k.VerifyingKeyHash(), Backend: backend, Took: took}, nil
}

// proveVerified proves job on b and verifies the proof. If b fails as a
// device, or its proof does not verify, the job moves to the fallback
// backend. It returns the proof and the backend that made it.
func (p *Prover) proveVerified(ctx context.Context, job hwaccel.Job, public witness.Witness, b hwaccel.Backend) (groth16.Proof, string, error) {
	proof, err := b.Prove(ctx, job)
	var devErr *hwaccel.DeviceError
	switch {
	case errors.As(err, &devErr) && p.fallback != nil && b != p.fallback:
		p.log.Warn("device failed; proving on the fallback", "device", devErr.Device, "reason", devErr.Reason, "fallback", p.fallback.Name(), "err", err)
		p.onFall(devErr.Device, devErr.Reason)
		return p.proveVerified(ctx, job, public, p.fallback)
	case errors.Is(err, hwaccel.ErrDevice) || errors.Is(err, ctx.Err()) && ctx.Err() != nil:
		return nil, "", err
	case err != nil:
		// Native checks passed, so the circuit is the one that said no.
		return nil, "", fmt.Errorf("%w: the circuit rejects the witness: %v", input.ErrUnsatisfied, err)
	}
	if err := groth16.Verify(proof, job.VK, public); err != nil {
		p.log.Error("proof failed verification; withheld", "circuit", job.Circuit, "backend", b.Name(), "err", err)
		if p.fallback != nil && b != p.fallback {
			p.onFall(b.Name(), "rejected")
			return p.proveVerified(ctx, job, public, p.fallback)
		}
		return nil, "", fmt.Errorf("on %s: %w: %v", b.Name(), ErrProofRejected, err)
	}
	return proof, b.Name(), nil
}
