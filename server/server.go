package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/prover/export"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/tenants"
)

var (
	// errBadRequest marks a request that is malformed before any input is read.
	errBadRequest = errcode.New(errcode.BadRequest, "bad request")
	// errNoReceipts: this server was started without a receipt key.
	errNoReceipts = errcode.New(errcode.ReceiptInvalid, "this server signs no receipts")
	// errNoInputKeys: this server publishes no input key, so takes no
	// sealed inputs.
	errNoInputKeys = errcode.New(errcode.InputKeyUnknown, "this server offers no sealed inputs: it publishes no input key; send input_json")
)

// InputKeys are the input keys clients seal their inputs to.
type InputKeys interface {
	// For is the key tenant's clients seal to ("" without tenants): the
	// tenant's own, or the service's.
	For(tenant string) (*sealed.PublicKey, error)
}

// Scheduler is what the handlers need of the scheduler.
type Scheduler interface {
	Submit(ctx context.Context, req scheduler.Request) (*scheduler.Job, bool, error)
	Get(ctx context.Context, id string) (*scheduler.Job, error)
	Cancel(ctx context.Context, id string) (*scheduler.Job, error)
	WaitChange(ctx context.Context, id string, version uint64) (*scheduler.Job, error)
	Wait(ctx context.Context, id string) (*scheduler.Job, error)
}

// Prover is the read-only prover side: verifying and exporting keys, and
// whether a circuit's keys can be used.
type Prover interface {
	VerifyFile(data []byte) (*prover.ProofFile, error)
	Store() prover.KeyStore
	KeysStatus(c *circuits.Circuit) error
}

// Config configures the handlers. The zero value is usable.
type Config struct {
	MaxInputBytes int                 // largest input_json; 0 means input.MaxDocumentBytes
	Devices       func() []*pb.Device // for ListDevices; nil lists none
	Receipts      *receipt.Signer     // signs succeeded jobs, and the published input keys; nil signs none
	// InputKeys, when set, are published (GetInputKey) and taken in
	// sealed inputs. Nil: sealed inputs are refused.
	InputKeys InputKeys
	// Tenants, when set, own their jobs and have quotas; calls carry the
	// tenant Authenticate put in their context. Nil: one anonymous tenant.
	Tenants *tenants.Table
	// Usage, when set, answers GetUsage; nil: GetUsage is UNIMPLEMENTED.
	Usage  UsageReader
	Logger *slog.Logger
}

// Server implements proofmill.v1.Prover.
type Server struct {
	pb.UnimplementedProverServer
	sched  Scheduler
	prover Prover
	cfg    Config
	log    *slog.Logger
	// digests: circuit + "\x00" + key hash → the key's digest in every
	// format, once computed (a key's bytes never change under its hash).
	digests sync.Map
}

// New returns the handlers.
func New(s Scheduler, p Prover, cfg Config) *Server {
	if cfg.MaxInputBytes == 0 {
		cfg.MaxInputBytes = input.MaxDocumentBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{sched: s, prover: p, cfg: cfg, log: cfg.Logger}
}

func (s *Server) fail(method string, err error) error { return toStatus(s.log, method, err) }

func (s *Server) ListCircuits(ctx context.Context, _ *pb.ListCircuitsRequest) (*pb.ListCircuitsResponse, error) {
	var out []*pb.Circuit
	for _, c := range s.prover.Store().Catalog() {
		schema, err := json.Marshal(c.Schema)
		if err != nil {
			return nil, s.fail("ListCircuits", err)
		}
		pc := &pb.Circuit{Id: c.ID, Description: c.Description, PublicInputs: c.PublicInputs, InputSchemaJson: string(schema),
			Constraints: int64(c.Summary.Constraints), KeyOrigin: c.Origin, VerifyingKeySha256: c.VerifyingKeyHash}
		if c.Origin == prover.OriginDevelopment {
			pc.Warning = prover.DevelopmentKeyWarning
		}
		if err := s.prover.KeysStatus(c.Circuit); err != nil {
			pc.UnavailableCode, pc.UnavailableReason = string(errcode.Of(err)), err.Error()
		}
		out = append(out, pc)
	}
	return &pb.ListCircuitsResponse{Circuits: out}, nil
}

// keyFormats are the API's key formats, as export.Write names them.
var keyFormats = map[pb.KeyFormat]string{
	pb.KeyFormat_KEY_FORMAT_UNSPECIFIED: "gnark", pb.KeyFormat_KEY_FORMAT_GNARK: "gnark",
	pb.KeyFormat_KEY_FORMAT_SOLIDITY: "solidity", pb.KeyFormat_KEY_FORMAT_SNARKJS: "json",
}

func (s *Server) GetVerifyingKey(ctx context.Context, req *pb.GetVerifyingKeyRequest) (*pb.GetVerifyingKeyResponse, error) {
	c, err := circuits.Lookup(req.GetCircuit())
	if err != nil {
		return nil, s.fail("GetVerifyingKey", err)
	}
	name, ok := keyFormats[req.GetFormat()]
	if !ok {
		return nil, s.fail("GetVerifyingKey", fmt.Errorf("%w: format: unknown key format %d", errBadRequest, req.GetFormat()))
	}
	key, err := s.prover.Store().ExportVerifyingKey(c.ID, name)
	if err != nil {
		return nil, s.fail("GetVerifyingKey", err)
	}
	format := req.GetFormat()
	if format == pb.KeyFormat_KEY_FORMAT_UNSPECIFIED {
		format = pb.KeyFormat_KEY_FORMAT_GNARK
	}
	return &pb.GetVerifyingKeyResponse{Circuit: c.ID, Format: format, Key: key.Data, KeySha256: key.SHA256,
		VerifyingKeySha256: key.KeyHash}, nil
}

// servedFormats are the formats a job lists digests for, in order.
var servedFormats = []pb.KeyFormat{pb.KeyFormat_KEY_FORMAT_GNARK, pb.KeyFormat_KEY_FORMAT_SNARKJS, pb.KeyFormat_KEY_FORMAT_SOLIDITY}

// keyDigests lists the SHA-256 of the circuit's key, named hash, in every
// format GetVerifyingKey serves. When the store holds another key now (or
// cannot be read), only the gnark format's, which is the hash itself.
func (s *Server) keyDigests(circuit, hash string) []*pb.VerifyingKeyDigest {
	if hash == "" {
		return nil
	}
	id := circuit + "\x00" + hash
	if d, ok := s.digests.Load(id); ok {
		return d.([]*pb.VerifyingKeyDigest)
	}
	only := []*pb.VerifyingKeyDigest{{Format: pb.KeyFormat_KEY_FORMAT_GNARK, Sha256: hash}}
	if s.prover == nil { // handlers without a key store (tests of the API alone)
		return only
	}
	sums, err := s.prover.Store().VerifyingKeyDigests(circuit)
	if err != nil {
		s.log.Warn("verifying key digests unavailable", "circuit", circuit, "err", err)
		return only
	}
	if sums["gnark"] != hash {
		return only
	}
	all := make([]*pb.VerifyingKeyDigest, len(servedFormats))
	for i, f := range servedFormats {
		all[i] = &pb.VerifyingKeyDigest{Format: f, Sha256: sums[keyFormats[f]]}
	}
	s.digests.Store(id, all)
	return all
}

// request validates a submission, charges it to the caller's tenant, and
// turns it into a scheduler request.
func (s *Server) request(ctx context.Context, req *pb.SubmitProofRequest) (scheduler.Request, error) {
	r := scheduler.Request{Circuit: req.GetCircuit(), Input: []byte(req.GetInputJson()), IdempotencyKey: req.GetIdempotencyKey()}
	if t := tenants.From(ctx); t != nil {
		r.Tenant, r.TenantMaxQueued, r.DailyProofSeconds = t.ID, t.MaxQueued, t.DailyProofSeconds
		if err := s.cfg.Tenants.Allow(t); err != nil {
			return r, err
		}
	}
	switch {
	case r.Circuit == "":
		return r, fmt.Errorf("%w: circuit: required (see ListCircuits)", errBadRequest)
	case req.GetSealedInput() != nil:
		if err := s.sealedInput(ctx, req, &r); err != nil {
			return r, err
		}
	case len(r.Input) == 0:
		return r, fmt.Errorf("%w: input_json: required (or sealed_input)", errBadRequest)
	case tenants.From(ctx).Dedicated():
		return r, fmt.Errorf("%w: input_json: tenant %s keeps its documents on its own machines: seal the input to its input key (GetInputKey; `proofmill submit --seal`)",
			errBadRequest, r.Tenant)
	case len(r.Input) > s.cfg.MaxInputBytes:
		return r, fmt.Errorf("input_json: %w: %d bytes, over this server's limit of %d (its --max-input)", input.ErrTooLarge, len(r.Input), s.cfg.MaxInputBytes)
	}
	switch req.GetPriority() {
	case pb.Priority_PRIORITY_UNSPECIFIED, pb.Priority_PRIORITY_INTERACTIVE:
		r.Priority = scheduler.Interactive
	case pb.Priority_PRIORITY_BATCH:
		r.Priority = scheduler.Batch
	default:
		return r, fmt.Errorf("priority: %w %d", scheduler.ErrBadPriority, req.GetPriority())
	}
	if d := req.GetDeadline(); d != nil {
		if err := d.CheckValid(); err != nil {
			return r, fmt.Errorf("%w: deadline: %v", errBadRequest, err)
		}
		r.Deadline = d.AsTime()
	}
	return r, nil
}

// sealedInput checks a sealed input as far as the server can see it: its
// size, and that it names the input key published to the caller's tenant.
func (s *Server) sealedInput(ctx context.Context, req *pb.SubmitProofRequest, r *scheduler.Request) error {
	in := req.GetSealedInput()
	switch limit := s.cfg.MaxInputBytes + sealed.Overhead; {
	case len(r.Input) > 0:
		return fmt.Errorf("%w: input_json and sealed_input: give one, not both", errBadRequest)
	case in.GetKeyId() == "":
		return fmt.Errorf("%w: sealed_input.key_id: required (see GetInputKey)", errBadRequest)
	case len(in.GetCiphertext()) == 0:
		return fmt.Errorf("%w: sealed_input.ciphertext: required", errBadRequest)
	case len(in.GetCiphertext()) > limit:
		return fmt.Errorf("sealed_input.ciphertext: %w: %d bytes, over this server's limit of %d (its --max-input, and %d bytes of HPKE's)",
			input.ErrTooLarge, len(in.GetCiphertext()), limit, sealed.Overhead)
	}
	key, err := s.inputKey(ctx)
	if err != nil {
		return err
	}
	if in.GetKeyId() != key.ID() {
		given := fmt.Sprintf("%q", in.GetKeyId())
		if len(in.GetKeyId()) > 64 {
			given = fmt.Sprintf("of %d bytes", len(in.GetKeyId()))
		}
		return errcode.Errorf(errcode.InputKeyUnknown, "sealed_input.key_id %s is not the input key this server publishes to you (%s): fetch it with GetInputKey and seal again",
			given, key.ID())
	}
	r.Input, r.Sealed = nil, &scheduler.SealedInput{KeyID: in.GetKeyId(), Data: in.GetCiphertext()}
	return nil
}

// inputKey is the input key published to the caller's tenant.
func (s *Server) inputKey(ctx context.Context) (*sealed.PublicKey, error) {
	if s.cfg.InputKeys == nil {
		return nil, errNoInputKeys
	}
	key, err := s.cfg.InputKeys.For(tenants.ID(ctx))
	if err == nil && key == nil {
		err = fmt.Errorf("%w (none for tenant %q)", errNoInputKeys, tenants.ID(ctx))
	}
	return key, err
}

// submit validates a request and admits it; the scheduler records it in
// the audit log before storing it.
func (s *Server) submit(ctx context.Context, req *pb.SubmitProofRequest) (*scheduler.Job, bool, error) {
	r, err := s.request(ctx, req)
	if err != nil {
		return nil, false, err
	}
	return s.sched.Submit(ctx, r)
}

func (s *Server) SubmitProof(ctx context.Context, req *pb.SubmitProofRequest) (*pb.SubmitProofResponse, error) {
	j, created, err := s.submit(ctx, req)
	if err != nil {
		return nil, s.fail("SubmitProof", err)
	}
	out, err := s.toJob(j)
	if err != nil {
		return nil, s.fail("SubmitProof", err)
	}
	return &pb.SubmitProofResponse{Job: out, Created: created}, nil
}

func (s *Server) Prove(ctx context.Context, req *pb.SubmitProofRequest) (*pb.Job, error) {
	j, _, err := s.submit(ctx, req)
	if err != nil {
		return nil, s.fail("Prove", err)
	}
	id := j.ID
	if j, err = s.sched.Wait(ctx, id); err != nil {
		return nil, s.fail("Prove", fmt.Errorf("job %s did not finish in time (it keeps running; GetJob or WatchJob it): %w", id, err))
	}
	return s.served("Prove", j)
}

// owned returns a job if the caller's tenant submitted it. Another
// tenant's job is "not found", in the same words as a missing one, so IDs
// reveal nothing.
func (s *Server) owned(ctx context.Context, id string, j *scheduler.Job, err error) (*scheduler.Job, error) {
	if errors.Is(err, scheduler.ErrNotFound) || err == nil && j.Tenant != tenants.ID(ctx) {
		return nil, fmt.Errorf("job %q: %w", id, scheduler.ErrNotFound)
	}
	if err == nil && j.ID != id {
		s.log.Error("a stored job record holds another job: storage was changed or damaged; not served", "job", id, "holds", j.ID)
		return nil, fmt.Errorf("job %s: %w (the record holds job %s)", id, errTampered, j.ID)
	}
	return j, err
}

func (s *Server) GetJob(ctx context.Context, req *pb.GetJobRequest) (*pb.Job, error) {
	j, err := s.sched.Get(ctx, req.GetId())
	if j, err = s.owned(ctx, req.GetId(), j, err); err != nil {
		return nil, s.fail("GetJob", err)
	}
	return s.served("GetJob", j)
}

func (s *Server) WatchJob(req *pb.WatchJobRequest, stream pb.Prover_WatchJobServer) error {
	ctx := stream.Context()
	var version uint64
	for {
		j, err := s.sched.WaitChange(ctx, req.GetId(), version)
		if j, err = s.owned(ctx, req.GetId(), j, err); err != nil {
			return s.fail("WatchJob", err)
		}
		out, err := s.toJob(j)
		if err != nil {
			return s.fail("WatchJob", err)
		}
		if err := stream.Send(out); err != nil {
			return err
		}
		if j.State.Terminal() {
			return nil
		}
		version = j.Version
	}
}

func (s *Server) CancelJob(ctx context.Context, req *pb.CancelJobRequest) (*pb.Job, error) {
	j, err := s.sched.Get(ctx, req.GetId())
	if _, err = s.owned(ctx, req.GetId(), j, err); err != nil {
		return nil, s.fail("CancelJob", err)
	}
	if j, err = s.sched.Cancel(ctx, req.GetId()); err != nil {
		return nil, s.fail("CancelJob", err)
	}
	return s.served("CancelJob", j)
}

func (s *Server) VerifyProof(ctx context.Context, req *pb.VerifyProofRequest) (*pb.VerifyProofResponse, error) {
	if len(req.GetProofJson()) > s.cfg.MaxInputBytes {
		return nil, s.fail("VerifyProof", fmt.Errorf("proof_json: %w", input.ErrTooLarge))
	}
	f, err := s.prover.VerifyFile(req.GetProofJson())
	switch {
	case errors.Is(err, prover.ErrProofRejected):
		return &pb.VerifyProofResponse{Valid: false, Reason: err.Error()}, nil
	case err != nil:
		return nil, s.fail("VerifyProof", err)
	case req.GetCircuit() != "" && req.GetCircuit() != f.Circuit:
		return &pb.VerifyProofResponse{Valid: false, Circuit: f.Circuit, Reason: fmt.Sprintf("the proof is for %s, not %s", f.Circuit, req.GetCircuit())}, nil
	}
	return &pb.VerifyProofResponse{Valid: true, Circuit: f.Circuit, PublicInputs: publicInputs(f.PublicInputs)}, nil
}

func (s *Server) ListDevices(ctx context.Context, _ *pb.ListDevicesRequest) (*pb.ListDevicesResponse, error) {
	if s.cfg.Devices == nil {
		return &pb.ListDevicesResponse{}, nil
	}
	return &pb.ListDevicesResponse{Devices: s.cfg.Devices()}, nil
}

var stages = map[scheduler.Stage]pb.JobStage{
	scheduler.StageWaitingForKeys: pb.JobStage_JOB_STAGE_WAITING_FOR_KEYS, scheduler.StageMakingKeys: pb.JobStage_JOB_STAGE_MAKING_DEVELOPMENT_KEYS,
	scheduler.StageSolving: pb.JobStage_JOB_STAGE_SOLVING, scheduler.StageProving: pb.JobStage_JOB_STAGE_PROVING,
	scheduler.StageVerifying: pb.JobStage_JOB_STAGE_VERIFYING,
}

var states = map[scheduler.State]pb.JobState{
	scheduler.Queued: pb.JobState_JOB_STATE_QUEUED, scheduler.Running: pb.JobState_JOB_STATE_RUNNING,
	scheduler.Succeeded: pb.JobState_JOB_STATE_SUCCEEDED, scheduler.Failed: pb.JobState_JOB_STATE_FAILED,
	scheduler.Cancelled: pb.JobState_JOB_STATE_CANCELLED,
}

// GetServiceKey returns the key receipts are signed with.
func (s *Server) GetServiceKey(ctx context.Context, _ *pb.GetServiceKeyRequest) (*pb.GetServiceKeyResponse, error) {
	if s.cfg.Receipts == nil {
		return nil, s.fail("GetServiceKey", errNoReceipts)
	}
	return &pb.GetServiceKeyResponse{Ed25519PublicKey: s.cfg.Receipts.PublicKey(), KeyId: s.cfg.Receipts.KeyID()}, nil
}

// GetInputKey publishes the input key the caller's tenant seals to,
// signed by the service key over its statement.
func (s *Server) GetInputKey(ctx context.Context, _ *pb.GetInputKeyRequest) (*pb.GetInputKeyResponse, error) {
	key, err := s.inputKey(ctx)
	if err != nil {
		return nil, s.fail("GetInputKey", err)
	}
	if s.cfg.Receipts == nil {
		return nil, s.fail("GetInputKey", fmt.Errorf("%w, so it publishes no input key: it would be unsigned", errNoReceipts))
	}
	tenant := tenants.ID(ctx)
	statement := sealed.KeyStatement(key.ID(), sealed.Suite, key.Bytes(), tenant)
	return &pb.GetInputKeyResponse{KeyId: key.ID(), Suite: sealed.Suite, PublicKey: key.Bytes(), Tenant: tenant,
		Signature: s.cfg.Receipts.SignMessage(statement), SigningKeyId: s.cfg.Receipts.KeyID()}, nil
}

// served is the answer for a job, or the error for a damaged one.
func (s *Server) served(method string, j *scheduler.Job) (*pb.Job, error) {
	out, err := s.toJob(j)
	if err != nil {
		return nil, s.fail(method, err)
	}
	return out, nil
}

func jobView(j *scheduler.Job) *pb.Job {
	out := &pb.Job{
		Id: j.ID, Circuit: j.Circuit, State: states[j.State], Attempts: int32(j.Attempts),
		Error: j.Error, ErrorKind: j.ErrorKind, Backend: j.Backend, ProofJson: j.Result,
		Submitted: timestamp(j.Submitted), Started: timestamp(j.Started), Finished: timestamp(j.Finished), Deadline: timestamp(j.Deadline),
		Priority: pb.Priority_PRIORITY_INTERACTIVE,
	}
	if j.State == scheduler.Running {
		out.Stage = stages[j.Stage]
	}
	if j.Priority == scheduler.Batch {
		out.Priority = pb.Priority_PRIORITY_BATCH
	}
	if j.State != scheduler.Succeeded {
		return out
	}
	out.VerifyingKeySha256 = j.VerifyingKey
	out.PublicInputs = make([]*pb.PublicInput, len(j.PublicInputs))
	for i, v := range j.PublicInputs {
		out.PublicInputs[i] = &pb.PublicInput{Name: v.Name, Value: v.Value}
	}
	var f struct {
		EVM *export.Calldata `json:"evm_calldata"`
	}
	if json.Unmarshal(j.Result, &f) == nil && f.EVM != nil {
		out.EvmCalldata = &pb.EvmCalldata{Proof: f.EVM.Proof[:], PublicInputs: f.EVM.PublicInputs}
	}
	if len(j.PublicInputs) == 0 && len(j.Result) > 0 {
		// Stored before jobs kept their public inputs: read them from
		// the proof file, once per read, until retention expires it.
		var f prover.ProofFile
		if json.Unmarshal(j.Result, &f) == nil {
			out.PublicInputs, out.VerifyingKeySha256 = publicInputs(f.PublicInputs), f.VerifyingKeySHA256
		}
	}
	return out
}

func publicInputs(in []prover.NamedValue) []*pb.PublicInput {
	out := make([]*pb.PublicInput, len(in))
	for i, v := range in {
		out[i] = &pb.PublicInput{Name: v.Name, Value: v.Value}
	}
	return out
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
