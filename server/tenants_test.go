package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func digest(token string) string { return TokenDigest(token) }

func TestNewTenantsRejectsBadTables(t *testing.T) {
	ok := func() *Tenant { return &Tenant{ID: "bank-a", TokensSHA256: []string{digest("a")}} }
	for _, tc := range []struct {
		name  string
		list  []*Tenant
		wants string
	}{
		{"empty", nil, "no tenants"},
		{"bad id", []*Tenant{{ID: "Bank A", TokensSHA256: []string{digest("a")}}}, `tenant id "Bank A"`},
		{"duplicate id", []*Tenant{ok(), ok()}, "listed twice"},
		{"no credential", []*Tenant{{ID: "bank-a"}}, "nobody could call"},
		{"token not a digest", []*Tenant{{ID: "bank-a", TokensSHA256: []string{"secret"}}}, "64 hex digits"},
		{"shared token", []*Tenant{ok(), {ID: "bank-b", TokensSHA256: []string{digest("a")}}}, "of tenant bank-a too"},
		{"shared name", []*Tenant{{ID: "a", CertCommonNames: []string{"x"}}, {ID: "b", CertCommonNames: []string{"x"}}}, `name "x"`},
		{"negative quota", []*Tenant{{ID: "a", MaxQueued: -1, TokensSHA256: []string{digest("a")}}}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTenants(tc.list); err == nil || !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("err = %v, want %q", err, tc.wants)
			}
		})
	}
}

func TestIdentifyByToken(t *testing.T) {
	ts, err := NewTenants([]*Tenant{
		{ID: "bank-a", TokensSHA256: []string{digest("token-a")}},
		{ID: "bank-b", TokensSHA256: []string{strings.ToUpper(digest("token-b"))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(md ...string) (*Tenant, error) {
		return ts.identify(metadata.NewIncomingContext(context.Background(), metadata.Pairs(md...)))
	}
	if who, err := call("authorization", "Bearer token-a"); err != nil || who.ID != "bank-a" {
		t.Fatalf("token-a: %v %v", who, err)
	}
	if who, err := call("authorization", "Bearer token-b"); err != nil || who.ID != "bank-b" {
		t.Fatalf("token-b (digest in upper case): %v %v", who, err)
	}
	for _, md := range [][]string{{"authorization", "Bearer token-c"}, {"authorization", "token-a"}, {}, {"authorization", "Bearer " + digest("token-a")}} {
		if who, err := call(md...); !errors.Is(err, errUnauthenticated) {
			t.Errorf("%q: identified as %v (%v)", md, who, err)
		}
	}
}

func TestSubmitRate(t *testing.T) {
	a := &Tenant{ID: "a", SubmitsPerSecond: 2, Burst: 3, TokensSHA256: []string{digest("a")}}
	free := &Tenant{ID: "free", TokensSHA256: []string{digest("f")}}
	ts, err := NewTenants([]*Tenant{a, free})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	ts.now = func() time.Time { return now }
	for i := range 3 {
		if err := ts.allowSubmit(a); err != nil {
			t.Fatalf("burst submission %d: %v", i, err)
		}
	}
	if err := ts.allowSubmit(a); !errors.Is(err, errRateLimited) {
		t.Fatalf("past the burst: %v", err)
	}
	now = now.Add(500 * time.Millisecond) // one token back at 2/s
	if err := ts.allowSubmit(a); err != nil {
		t.Fatalf("after refilling one: %v", err)
	}
	if err := ts.allowSubmit(a); !errors.Is(err, errRateLimited) {
		t.Fatalf("refilled more than one: %v", err)
	}
	for range 100 {
		if err := ts.allowSubmit(free); err != nil {
			t.Fatalf("a tenant without a rate was limited: %v", err)
		}
	}
}
