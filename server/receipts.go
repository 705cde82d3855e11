package server

import (
	"fmt"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// Statement is what a receipt for the job vouches for, read from the job
// as stored.
func Statement(j *scheduler.Job) receipt.Statement {
	v := jobView(j)
	return receipt.Statement{Job: j.ID, Tenant: j.Tenant, Circuit: j.Circuit, VerifyingKey: v.VerifyingKeySha256,
		Backend: j.Backend, PublicInputs: v.PublicInputs, Proof: j.Result}
}

// Notary signs receipts in the process that verified the proof, at that
// moment (a scheduler.Notary). Every process that finishes jobs signs with
// the one service key.
type Notary struct {
	Signer *receipt.Signer
	Now    func() time.Time // nil: time.Now
}

// Sign signs a job that has just succeeded.
func (n Notary) Sign(j *scheduler.Job) (*scheduler.Receipt, error) {
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	r, err := n.Signer.Sign(Statement(j), now())
	if err != nil {
		return nil, err
	}
	return &scheduler.Receipt{KeyID: r.GetKeyId(), Version: r.GetProofmillVersion(), SignedAt: r.GetSignedAt(),
		Signature: r.GetSignature()}, nil
}

// errTampered: a succeeded job's stored proof is not the one its receipt
// vouches for.
var errTampered = errcode.New(errcode.CorruptRecord, "stored proof does not match its receipt")

// toJob is the API's view of a job. A succeeded job is served only with
// its stored receipt, checked against the stored proof under the service
// key: a job whose record was changed after it was signed (or that was
// never signed) is DATA_LOSS, never a success.
func (s *Server) toJob(j *scheduler.Job) (*pb.Job, error) {
	out := jobView(j)
	if j.State == scheduler.Succeeded {
		out.VerifyingKeyDigests = s.keyDigests(j.Circuit, out.GetVerifyingKeySha256())
	}
	if s.cfg.Receipts == nil || j.State != scheduler.Succeeded {
		return out, nil
	}
	if j.Receipt == nil {
		s.log.Error("a succeeded job has no receipt: its record was changed, or it was proven before receipts were stored; not served",
			"job", j.ID)
		return nil, fmt.Errorf("job %s: %w (no receipt stored; resubmit it)", j.ID, errTampered)
	}
	st := Statement(j)
	r := &pb.Receipt{KeyId: j.Receipt.KeyID, ProofmillVersion: j.Receipt.Version, Tenant: j.Tenant,
		SignedAt: j.Receipt.SignedAt, Signature: j.Receipt.Signature,
		PublicInputsSha256: receipt.PublicInputsHash(st.PublicInputs), ProofSha256: receipt.ProofHash(st.Proof)}
	if err := receipt.Check(st, r, s.cfg.Receipts.PublicKey()); err != nil {
		s.log.Error("a succeeded job's stored record does not match its receipt: storage was changed or damaged; not served",
			"job", j.ID, "receipt_key", j.Receipt.KeyID, "service_key", s.cfg.Receipts.KeyID(), "err", err)
		return nil, fmt.Errorf("job %s: %w (signed by key %s; this service's key is %s)", j.ID, errTampered,
			j.Receipt.KeyID, s.cfg.Receipts.KeyID())
	}
	out.Receipt = r
	return out, nil
}
