package server

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// fakeUsage answers from fixed tallies, as the store filters them, and
// records the queries.
type fakeUsage struct {
	mu      sync.Mutex
	queries []scheduler.UsageQuery
}

var tallies = []scheduler.Usage{
	{Day: "2026-11-01", Tenant: "bank-a", Circuit: "c", Backend: "cpu", Proofs: 2, ProofMillis: 3500, Constraints: 20, StoredBytes: 900},
	{Day: "2026-11-02", Tenant: "bank-a", Circuit: "c", Backend: "cuda:0", Proofs: 1, ProofMillis: 1000, Constraints: 10, StoredBytes: 450},
	{Day: "2026-11-02", Tenant: "bank-b", Circuit: "c", Backend: "cpu", ProofMillis: 250},
}

func (f *fakeUsage) Usage(_ context.Context, q scheduler.UsageQuery) ([]scheduler.Usage, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	var out []scheduler.Usage
	for _, u := range tallies {
		if (q.All || u.Tenant == q.Tenant) && u.Day >= q.Since {
			out = append(out, u)
		}
	}
	return out, nil
}

// A tenant reads its own usage, and is refused another's with
// PERMISSION_DENIED; the operator reads anyone's, every tenant's by
// default; since must be a day.
func TestGetUsagePermissions(t *testing.T) {
	usage := &fakeUsage{}
	_, addr := startWith(t, newFake(), true, func(c *Config) { c.Usage = usage })
	ctx := t.Context()
	for _, tc := range []struct {
		name, token, since, tenant string
		code                       errcode.Code // "": no error
		want                       string       // the records' tenant/day/backend, or a phrase of the refusal
	}{
		{"own, by default", "a", "", "", "", "bank-a/2026-11-01/cpu bank-a/2026-11-02/cuda:0"},
		{"own, by name", "a", "", "bank-a", "", "bank-a/2026-11-01/cpu bank-a/2026-11-02/cuda:0"},
		{"own, since", "a", "2026-11-02", "", "", "bank-a/2026-11-02/cuda:0"},
		{"another's", "b", "", "bank-a", errcode.PermissionDenied, "tenant bank-b may read only its own usage, not bank-a's"},
		{"operator, every tenant", "ops", "", "", "", "bank-a/2026-11-01/cpu bank-a/2026-11-02/cuda:0 bank-b/2026-11-02/cpu"},
		{"operator, one tenant", "ops", "2026-11-02", "bank-b", "", "bank-b/2026-11-02/cpu"},
		{"since not a day", "a", "yesterday", "", errcode.BadRequest, `since: "yesterday" is not a day`},
		{"no credentials", "", "", "", errcode.Unauthenticated, "unauthenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := dial(t, addr, tc.token).Usage(ctx, tc.since, tc.tenant)
			if tc.code != "" {
				if errcode.Of(err) != tc.code || status.Code(err) != codes.Code(tc.code.Entry().Status) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v (%s), want %s naming %q", err, errcode.Of(err), tc.code, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.GetTenant()+"/"+r.GetDay()+"/"+r.GetBackend())
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("records %q, want %q", got, tc.want)
			}
		})
	}
}

// The figures travel as recorded: proof-milliseconds as seconds. Without
// tenants the one caller reads every tally, and naming a tenant is a bad
// request; a server without usage answers UNIMPLEMENTED.
func TestGetUsageWithoutTenants(t *testing.T) {
	_, addr := startWith(t, newFake(), false, func(c *Config) { c.Usage = &fakeUsage{} })
	c := dial(t, addr, "")
	recs, err := c.Usage(t.Context(), "", "")
	if err != nil || len(recs) != 3 {
		t.Fatalf("%v %v", recs, err)
	}
	if r := recs[0]; r.GetProofs() != 2 || r.GetProofSeconds() != 3.5 || r.GetConstraints() != 20 || r.GetStoredBytes() != 900 || r.GetCircuit() != "c" {
		t.Fatalf("record %v", r)
	}
	if _, err := c.Usage(t.Context(), "", "bank-a"); errcode.Of(err) != errcode.BadRequest || !strings.Contains(err.Error(), "tenant: this server has no tenants") {
		t.Fatalf("a tenant named without tenants: %v", err)
	}
	_, bare := start(t, newFake(), false)
	if _, err := dial(t, bare, "").Usage(t.Context(), "", ""); status.Code(err) != codes.Unimplemented {
		t.Fatalf("no usage reader: %v", err)
	}
}
