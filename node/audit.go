package node

import (
	"context"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/audit"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/diskfull"
	"github.com/proofmill/proofmill/scheduler"
)

// auditor writes the scheduler's events to an audit log: digests only.
type auditor struct{ log *audit.Log }

func (a auditor) Record(_ context.Context, ev scheduler.Event) error {
	j := ev.Job
	r := audit.Record{Event: ev.Kind, Job: j.ID, Tenant: j.Tenant, Circuit: j.Circuit, VerifyingKeySHA256: j.VerifyingKey,
		Backend: j.Backend, ErrorKind: j.ErrorKind}
	if ev.Kind != scheduler.EventSubmitted {
		r.Attempts = j.Attempts
	}
	if len(j.PublicInputs) > 0 {
		in := make([]*pb.PublicInput, len(j.PublicInputs))
		for i, p := range j.PublicInputs {
			in[i] = &pb.PublicInput{Name: p.Name, Value: p.Value}
		}
		r.PublicInputsSHA256 = receipt.PublicInputsHash(in) // the receipt's digest of the same inputs
	}
	if err := a.log.Append(r); diskfull.Is(err) {
		// As the journal's: retryable, so that a client backs off.
		return errcode.Errorf(errcode.Unavailable, "the audit log is out of space; nothing was recorded, and the same request succeeds once there is room (%w)", err)
	} else if err != nil {
		return err
	}
	return nil
}
