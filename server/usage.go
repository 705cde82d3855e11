package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/tenants"
)

// UsageReader reads the usage tallies (the scheduler is one).
type UsageReader interface {
	Usage(ctx context.Context, q scheduler.UsageQuery) ([]scheduler.Usage, error)
}

// errPermission: the caller may not read what it asked for.
var errPermission = errcode.New(errcode.PermissionDenied, "permission denied")

// GetUsage answers a tenant's figures, or an operator's view of every
// tenant's.
func (s *Server) GetUsage(ctx context.Context, req *pb.GetUsageRequest) (*pb.GetUsageResponse, error) {
	if s.cfg.Usage == nil {
		return nil, status.Error(codes.Unimplemented, "this server keeps no usage")
	}
	q, err := usageQuery(tenants.From(ctx), s.cfg.Tenants != nil, req)
	if err != nil {
		return nil, s.fail("GetUsage", err)
	}
	us, err := s.cfg.Usage.Usage(ctx, q)
	if err != nil {
		return nil, s.fail("GetUsage", err)
	}
	out := &pb.GetUsageResponse{Records: make([]*pb.UsageRecord, len(us))}
	for i, u := range us {
		out.Records[i] = &pb.UsageRecord{Day: u.Day, Tenant: u.Tenant, Circuit: u.Circuit, Backend: u.Backend, Proofs: u.Proofs,
			ProofSeconds: float64(u.ProofMillis) / 1000, Constraints: u.Constraints, StoredBytes: u.StoredBytes}
	}
	return out, nil
}

// usageQuery checks a GetUsage request against its caller (nil without
// tenants): a tenant reads its own figures, an operator anyone's (all by
// default); without tenants the one anonymous caller reads everything.
func usageQuery(caller *tenants.Tenant, withTenants bool, req *pb.GetUsageRequest) (scheduler.UsageQuery, error) {
	q := scheduler.UsageQuery{Since: req.GetSince(), Tenant: req.GetTenant()}
	if q.Since != "" {
		if _, err := time.Parse(scheduler.DayLayout, q.Since); err != nil {
			return q, fmt.Errorf("%w: since: %q is not a day; want a UTC date as 2026-11-01", errBadRequest, q.Since)
		}
	}
	switch {
	case !withTenants && q.Tenant != "":
		return q, fmt.Errorf("%w: tenant: this server has no tenants; leave it empty", errBadRequest)
	case !withTenants:
		q.All = true
	case caller == nil: // Authenticate lets no such call through
		return q, fmt.Errorf("%w: no tenant", tenants.ErrUnauthenticated)
	case caller.Operator:
		q.All = q.Tenant == ""
	case q.Tenant == "":
		q.Tenant = caller.ID
	case q.Tenant != caller.ID:
		return q, fmt.Errorf("%w: tenant %s may read only its own usage, not %s's (an operator tenant reads every tenant's)", errPermission, caller.ID, q.Tenant)
	}
	return q, nil
}
