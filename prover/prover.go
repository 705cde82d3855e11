package prover

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/internal/spans"
	"github.com/proofmill/proofmill/prover/export"
)

// ErrProofRejected: a proof failed verification and was withheld.
var ErrProofRejected = errcode.New(errcode.ProofRejected, "proof failed verification")

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
	// keys) and saves them, instead of failing with ErrNoKeys; not for a
	// circuit above circuits.ImplicitKeysLimit, whose keys are made only
	// when asked (SetupKeys, `proofmill keys setup --circuit ID`).
	DevSetup bool
	// Production refuses keys unless their ceremony transcript, kept in
	// the store by keys import, verifies and made them (VerifyCeremony);
	// it makes none.
	Production bool
	// VerdictDir, under Production, remembers which key sets' ceremony
	// transcripts verified, so a restart need not verify them again; "":
	// every start verifies.
	VerdictDir string
	// OnKeys, when set, is told the outcome of each load of a circuit's
	// keys (nil: loaded): for health.
	OnKeys func(circuit string, err error)
	Logger *slog.Logger // nil: slog.Default()
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
	verdicts   verdicts
	log        *slog.Logger

	onKeys func(circuit string, err error)

	mu    sync.Mutex
	keys  map[string]*keyLoad
	state map[string]keyState // by circuit id: the last load's outcome
}

// keyLoad is one load of a circuit's keys, shared by its callers.
type keyLoad struct {
	settingUp chan struct{} // closed when the load starts a development setup
	done      chan struct{} // closed once k and err are set
	k         *Keys
	err       error
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
	if cfg.OnKeys == nil {
		cfg.OnKeys = func(string, error) {}
	}
	if cfg.Production {
		if err := refuseDevelopmentKeys(cfg.Store); err != nil {
			return nil, err
		}
	}
	return &Prover{store: cfg.Store, backend: cfg.Backend, fallback: cfg.Fallback, onFall: cfg.OnFallback, devSetup: cfg.DevSetup && !cfg.Production, production: cfg.Production, verdicts: verdicts{cfg.VerdictDir}, log: cfg.Logger,
		onKeys: cfg.OnKeys, keys: map[string]*keyLoad{}, state: map[string]keyState{}}, nil
}

// Store returns the prover's key store.
func (p *Prover) Store() KeyStore { return p.store }

// Keys returns a circuit's keys, loading them (or, with DevSetup, making
// them) on first use. Concurrent callers share one load.
func (p *Prover) Keys(c *circuits.Circuit) (*Keys, error) {
	return p.LoadKeys(context.Background(), c)
}

// LoadKeys is Keys, waiting for a load no longer than ctx lasts: a
// development setup cannot be interrupted, so a caller that stops waiting
// (a shutdown) leaves it running, to save the keys for the next caller, or
// to end with the process; the key store writes keys whole or not at all.
// Under WithProgress it reports StageWaitingForKeys when the keys are not
// loaded yet, and StageMakingKeys when a setup makes them.
func (p *Prover) LoadKeys(ctx context.Context, c *circuits.Circuit) (*Keys, error) {
	p.mu.Lock()
	l, ok := p.keys[c.ID]
	if !ok {
		l = &keyLoad{settingUp: make(chan struct{}), done: make(chan struct{})}
		p.keys[c.ID] = l
		// Not tied to a caller: callers come and go, the setup runs on.
		go func() {
			l.k, l.err = p.loadOrSetup(c, l.settingUp)
			if l.err != nil {
				p.mu.Lock()
				if p.keys[c.ID] == l {
					delete(p.keys, c.ID) // let a later call retry, e.g. after `keys setup`
				}
				p.mu.Unlock()
			}
			close(l.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-l.done:
		return l.k, l.err
	default:
	}
	progress(ctx, StageWaitingForKeys)
	settingUp := l.settingUp
	for {
		select {
		case <-l.done:
			return l.k, l.err
		case <-settingUp:
			progress(ctx, StageMakingKeys)
			settingUp = nil
		case <-ctx.Done():
			return nil, errcode.Errorf(errcode.Of(ctx.Err()), "prover: keys of %s: stopped waiting: %w", c.ID, ctx.Err())
		}
	}
}

func (p *Prover) loadOrSetup(c *circuits.Circuit, settingUp chan<- struct{}) (*Keys, error) {
	seen := p.store.fingerprint(c.ID) // before reading: a change meanwhile means another try
	k, err := p.loadOrSetupOnce(c, settingUp)
	p.record(c, err, seen)
	return k, err
}

func (p *Prover) loadOrSetupOnce(c *circuits.Circuit, settingUp chan<- struct{}) (*Keys, error) {
	start := time.Now()
	k, err := p.store.Load(c.ID)
	if errors.Is(err, ErrNoKeys) && p.devSetup && c.KeysOnlyWhenAsked() {
		err = notAsked(c)
	} else if errors.Is(err, ErrNoKeys) && p.devSetup {
		close(settingUp)
		if k, err = Setup(c, p.log); err != nil {
			return nil, err
		}
		if err = p.store.Save(c.ID, k); errors.Is(err, ErrKeysExist) {
			k, err = p.store.Load(c.ID)
		}
	} else if err == nil && p.production {
		err = p.checkCeremony(c, k)
	} else if err == nil && k.Manifest.Origin == OriginDevelopment {
		p.log.Warn(DevelopmentKeyWarning, "circuit", c.ID)
	}
	if err != nil {
		return nil, err
	}
	p.log.Info("keys loaded", "circuit", c.ID, "constraints", k.Manifest.Constraints, "took", time.Since(start).Round(time.Millisecond))
	return k, nil
}

// setsUp says whether a load that finds no keys for c makes them.
func (p *Prover) setsUp(c *circuits.Circuit) bool { return p.devSetup && !c.KeysOnlyWhenAsked() }

// notAsked is the ErrNoKeys of a circuit whose development keys DevSetup
// does not make.
func notAsked(c *circuits.Circuit) error {
	return fmt.Errorf("prover: load %s: %w: with %d constraints (above %d) its development keys are made only when asked: run `proofmill keys setup --circuit %s` (it takes many minutes and gigabytes)",
		c.ID, ErrNoKeys, c.Constraints, circuits.ImplicitKeysLimit, c.ID)
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
	PublicInputs     []NamedValue // by name, in circuit order
	VerifyingKeyHash string
	Backend          string // the device that made it: "cpu", "cuda:0", …
	Took             time.Duration
}

// Prove decodes a JSON input, checks its rules natively, proves it, and
// verifies the proof before returning it. Errors from the input match the
// input.Err* kinds; a statement the circuit rejects matches
// input.ErrUnsatisfied.
func (p *Prover) Prove(ctx context.Context, c *circuits.Circuit, data []byte) (*Proof, error) {
	st, err := c.Admit(data)
	if err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err)
	}
	return p.ProveWitness(ctx, c, st.Witness)
}

// ProveWitness proves an admitted statement from its witness
// (circuits.Statement.Witness) and verifies the proof, once, before
// returning it. The witness must have the circuit's shape.
func (p *Prover) ProveWitness(ctx context.Context, c *circuits.Circuit, wit []byte) (*Proof, error) {
	k, err := p.LoadKeys(ctx, c)
	if err != nil {
		return nil, err
	}
	full, err := decodeWitness(k.CCS, wit)
	if err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err)
	}
	public, err := full.Public()
	if err != nil {
		return nil, fmt.Errorf("prover: %s: public witness: %w", c.ID, err)
	}
	signals, err := export.PublicSignals(public)
	if err != nil {
		return nil, fmt.Errorf("prover: %s: public witness: %w", c.ID, err)
	}
	if len(signals) != len(c.PublicInputs) {
		return nil, fmt.Errorf("prover: %s: %d public inputs in the witness, want %d", c.ID, len(signals), len(c.PublicInputs))
	}
	named := make([]NamedValue, len(signals))
	for i, v := range signals {
		named[i] = NamedValue{Name: c.PublicInputs[i], Value: v}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err) // Prove cannot be interrupted once started
	}
	start := time.Now()
	job := hwaccel.Job{Circuit: c.ID, CCS: k.CCS, PK: k.PK, Witness: full, Solved: func() { progress(ctx, StageProving) }}
	proof, device, err := p.proveVerified(ctx, job, k.VK, public, p.backend)
	if err != nil {
		return nil, fmt.Errorf("prover: %s: %w", c.ID, err)
	}
	return &Proof{Circuit: c, Proof: proof, Public: public, PublicInputs: named,
		VerifyingKeyHash: k.VerifyingKeyHash(), Backend: device, Took: time.Since(start)}, nil
}

// witnessHeader is the length of gnark's witness encoding before its
// elements: the public and secret counts, and the vector's length.
const witnessHeader = 12

// decodeWitness decodes a full witness after checking that its length and
// the three counts in its header are those of ccs, so that a damaged or
// foreign record is refused before gnark reads it (and sizes by it). Such a
// record is an errcode.CorruptRecord: no attempt can prove it.
func decodeWitness(ccs constraint.ConstraintSystem, data []byte) (witness.Witness, error) {
	nbPublic, nbSecret := ccs.GetNbPublicVariables()-1, ccs.GetNbSecretVariables() // less the constant 1
	want := witnessHeader + fr.Bytes*(nbPublic+nbSecret)
	if len(data) != want || binary.BigEndian.Uint32(data) != uint32(nbPublic) || binary.BigEndian.Uint32(data[4:]) != uint32(nbSecret) ||
		binary.BigEndian.Uint32(data[8:]) != uint32(nbPublic+nbSecret) {
		return nil, errcode.Errorf(errcode.CorruptRecord, "witness: %d bytes, want %d for %d public and %d secret values", len(data), want, nbPublic, nbSecret)
	}
	full, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	if err := full.UnmarshalBinary(data); err != nil {
		return nil, errcode.Errorf(errcode.CorruptRecord, "witness: %w", err)
	}
	return full, nil
}

// proveVerified proves job on b and verifies the proof: the one check every
// proof gets before release. If b fails as a device, or its proof does not
// verify, the job moves to the fallback backend. It returns the proof and
// the device that made it.
func (p *Prover) proveVerified(ctx context.Context, job hwaccel.Job, vk groth16.VerifyingKey, public witness.Witness, b hwaccel.Backend) (groth16.Proof, string, error) {
	// gnark's Prove solves the witness inside, so solve and proof share a
	// span; where the backend tells the solve's end (Job.Solved: the CPU in
	// this process), the span gets the two as children.
	progress(ctx, StageSolving)
	pctx, span := spans.Start(ctx, "prover.solve_prove", attribute.String("proofmill.backend", b.Name()))
	var solvedAt atomic.Int64 // unix nanoseconds; 0: not told
	solved := job.Solved
	job.Solved = func() {
		solvedAt.Store(time.Now().UnixNano())
		if solved != nil {
			solved()
		}
	}
	start := time.Now()
	res, err := b.Prove(pctx, job)
	if res.Device != "" {
		span.SetAttributes(attribute.String("proofmill.device", res.Device))
	}
	if at := solvedAt.Load(); at != 0 && err == nil {
		solvedTime, end := time.Unix(0, at), time.Now()
		tracer := span.TracerProvider().Tracer(spans.TracerName)
		_, solve := tracer.Start(pctx, "prover.solve", trace.WithTimestamp(start))
		solve.End(trace.WithTimestamp(solvedTime))
		_, prove := tracer.Start(pctx, "prover.prove", trace.WithTimestamp(solvedTime))
		prove.End(trace.WithTimestamp(end))
	}
	spans.End(span, err)
	var devErr *hwaccel.DeviceError
	switch {
	case errors.As(err, &devErr) && p.fallback != nil && b != p.fallback:
		p.log.Warn("device failed; proving on the fallback", "device", devErr.Device, "reason", devErr.Reason, "fallback", p.fallback.Name(), "err", err)
		p.onFall(devErr.Device, devErr.Reason)
		return p.proveVerified(ctx, job, vk, public, p.fallback)
	case errors.Is(err, hwaccel.ErrDevice):
		return nil, "", errcode.E("", errcode.DeviceFailure, err)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil, "", err
	case err != nil:
		// Native checks passed, so the circuit is the one that said no.
		// gnark's message shows values of the witness: keep it out of the
		// job, the logs and the client's answer.
		p.log.Error("the circuit rejects a witness its native checks accept", "circuit", job.Circuit, "device", b.Name())
		return nil, "", fmt.Errorf("%w: the circuit rejects the witness although its rules hold natively (details withheld: they hold private values)", input.ErrUnsatisfied)
	}
	progress(ctx, StageVerifying)
	_, span = spans.Start(ctx, "prover.verify", attribute.String("proofmill.device", res.Device))
	verr := groth16.Verify(res.Proof, vk, public)
	spans.End(span, verr)
	if res.Verified != nil {
		res.Verified(verr == nil)
	}
	if verr != nil {
		p.log.Error("proof failed verification; withheld", "circuit", job.Circuit, "device", res.Device, "err", verr)
		if p.fallback != nil && b != p.fallback {
			p.onFall(res.Device, "rejected")
			return p.proveVerified(ctx, job, vk, public, p.fallback)
		}
		return nil, "", fmt.Errorf("on %s: %w: %v", res.Device, ErrProofRejected, verr)
	}
	return res.Proof, res.Device, nil
}

// SetupKeys makes development keys for c in store, unless the store has
// keys for it already and force is not set; made says which.
func SetupKeys(store KeyStore, c *circuits.Circuit, force bool, log *slog.Logger) (k *Keys, made bool, err error) {
	if _, err := store.Manifest(c.ID); err == nil && !force {
		return nil, false, nil
	}
	if k, err = Setup(c, log); err != nil {
		return nil, false, err
	}
	return k, true, store.Put(c.ID, k, force)
}
