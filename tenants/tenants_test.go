package tenants

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
)

func TestNewRejectsBadTables(t *testing.T) {
	ok := func() *Tenant { return &Tenant{ID: "bank-a", TokensSHA256: []string{Digest("a")}} }
	for _, tc := range []struct {
		name  string
		list  []*Tenant
		wants string
	}{
		{"empty", nil, "no tenants"},
		{"bad id", []*Tenant{{ID: "Bank A", TokensSHA256: []string{Digest("a")}}}, `tenant id "Bank A"`},
		{"duplicate id", []*Tenant{ok(), ok()}, "listed twice"},
		{"no credential", []*Tenant{{ID: "bank-a"}}, "nobody could call"},
		{"token not a digest", []*Tenant{{ID: "bank-a", TokensSHA256: []string{"secret"}}}, "64 hex digits"},
		{"shared token", []*Tenant{ok(), {ID: "bank-b", TokensSHA256: []string{Digest("a")}}}, "of tenant bank-a too"},
		{"shared name", []*Tenant{{ID: "a", CertCommonNames: []string{"x"}}, {ID: "b", CertCommonNames: []string{"x"}}}, `name "x"`},
		{"negative quota", []*Tenant{{ID: "a", MaxQueued: -1, TokensSHA256: []string{Digest("a")}}}, "negative"},
		{"negative daily proof-seconds", []*Tenant{{ID: "a", DailyProofSeconds: -1, TokensSHA256: []string{Digest("a")}}}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.list); err == nil || !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("err = %v, want %q", err, tc.wants)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "tenants.json")
	os.WriteFile(path, []byte(`{"tenants": [{"id": "a", "tokens": ["x"]}]}`), 0o600)
	if _, err := Load(path); errcode.Of(err) != errcode.BadRequest || !strings.Contains(err.Error(), `unknown field "tokens"`) {
		t.Fatalf("a misspelt table: %v", err)
	}
}

func TestLookups(t *testing.T) {
	ts, err := New([]*Tenant{
		{ID: "bank-a", TokensSHA256: []string{Digest("token-a")}, Weight: 3},
		{ID: "bank-b", TokensSHA256: []string{strings.ToUpper(Digest("token-b"))}, CertCommonNames: []string{"node.bank-b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if who, err := ts.ByToken("token-a"); err != nil || who.ID != "bank-a" {
		t.Fatalf("token-a: %v %v", who, err)
	}
	if who, err := ts.ByToken("token-b"); err != nil || who.ID != "bank-b" {
		t.Fatalf("token-b (digest in upper case): %v %v", who, err)
	}
	for _, token := range []string{"token-c", "", Digest("token-a")} {
		if who, err := ts.ByToken(token); !errors.Is(err, ErrUnauthenticated) || errcode.Of(err) != errcode.Unauthenticated {
			t.Errorf("%q: identified as %v (%v)", token, who, err)
		}
	}
	if who, ok := ts.ByCertName("node.bank-b"); !ok || who.ID != "bank-b" {
		t.Fatalf("certificate name: %v", who)
	}
	if ts.Weight("bank-a") != 3 || ts.Weight("bank-b") != 1 || ts.Weight("nobody") != 1 || (*Table)(nil).Weight("bank-a") != 1 {
		t.Fatal("weights")
	}
	ctx := With(context.Background(), ts.All()[0])
	if ID(ctx) != "bank-a" || ID(context.Background()) != "" || From(context.Background()) != nil {
		t.Fatal("tenant in context")
	}
	token, err := NewToken()
	if err != nil || !strings.HasPrefix(token, "pm_") || len(token) < 40 {
		t.Fatalf("token %q %v", token, err)
	}
}

func TestAllowRate(t *testing.T) {
	a := &Tenant{ID: "a", SubmitsPerSecond: 2, Burst: 3, TokensSHA256: []string{Digest("a")}}
	free := &Tenant{ID: "free", TokensSHA256: []string{Digest("f")}}
	ts, err := New([]*Tenant{a, free})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	ts.now = func() time.Time { return now }
	for i := range 3 {
		if err := ts.Allow(a); err != nil {
			t.Fatalf("burst submission %d: %v", i, err)
		}
	}
	if err := ts.Allow(a); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "tenant a") {
		t.Fatalf("past the burst: %v", err)
	}
	now = now.Add(500 * time.Millisecond) // one token back at 2/s
	if err := ts.Allow(a); err != nil {
		t.Fatalf("after refilling one: %v", err)
	}
	if err := ts.Allow(a); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("refilled more than one: %v", err)
	}
	for range 100 {
		if err := ts.Allow(free); err != nil {
			t.Fatalf("a tenant without a rate was limited: %v", err)
		}
	}
}
