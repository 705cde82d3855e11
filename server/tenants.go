package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Tenant is one institution sharing the service. Its jobs are its own:
// no other tenant can read, watch or cancel them.
type Tenant struct {
	ID string `json:"id"`
	// Weight is its share of the workers while tenants with jobs waiting
	// compete (embedded queue); 0 means 1.
	Weight int `json:"weight,omitempty"`
	// MaxQueued bounds its unfinished jobs; 0: only the server's bound.
	MaxQueued int `json:"max_queued,omitempty"`
	// SubmitsPerSecond bounds its submissions, with bursts up to Burst
	// (0 means max(1, SubmitsPerSecond)); 0: no bound.
	SubmitsPerSecond float64 `json:"submits_per_second,omitempty"`
	Burst            int     `json:"burst,omitempty"`
	// TokensSHA256 are the hex SHA-256 digests of its API tokens: the
	// tokens themselves are never stored.
	TokensSHA256 []string `json:"tokens_sha256,omitempty"`
	// CertCommonNames are the subject common names of its client
	// certificates (mTLS; the certificates must chain to --client-ca).
	CertCommonNames []string `json:"cert_common_names,omitempty"`
}

// Tenants is the tenant table: who may call, and as whom.
type Tenants struct {
	all     []*Tenant
	byID    map[string]*Tenant
	byToken map[string]*Tenant // hex SHA-256 of the token
	byCN    map[string]*Tenant

	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

var tenantID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// LoadTenants reads a tenant table: {"tenants": [Tenant, ...]}.
func LoadTenants(path string) (*Tenants, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	var file struct {
		Tenants []*Tenant `json:"tenants"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("tenants: %s: %w", path, err)
	}
	ts, err := NewTenants(file.Tenants)
	if err != nil {
		return nil, fmt.Errorf("tenants: %s: %w", path, err)
	}
	return ts, nil
}

// NewTenants checks a tenant table: ids unique and well formed, each token
// and certificate name belonging to one tenant, limits not negative.
func NewTenants(list []*Tenant) (*Tenants, error) {
	ts := &Tenants{byID: map[string]*Tenant{}, byToken: map[string]*Tenant{}, byCN: map[string]*Tenant{}, buckets: map[string]*bucket{}, now: time.Now}
	for _, t := range list {
		switch {
		case !tenantID.MatchString(t.ID):
			return nil, fmt.Errorf("tenant id %q: want 1 to 63 of a-z 0-9 . _ -, starting with a letter or digit", t.ID)
		case ts.byID[t.ID] != nil:
			return nil, fmt.Errorf("tenant %s: listed twice", t.ID)
		case t.Weight < 0 || t.MaxQueued < 0 || t.SubmitsPerSecond < 0 || t.Burst < 0:
			return nil, fmt.Errorf("tenant %s: negative weight or limit", t.ID)
		case len(t.TokensSHA256) == 0 && len(t.CertCommonNames) == 0:
			return nil, fmt.Errorf("tenant %s: no token and no certificate name: nobody could call as it", t.ID)
		}
		ts.byID[t.ID] = t
		for _, h := range t.TokensSHA256 {
			h = strings.ToLower(h)
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("tenant %s: token digest %q: want 64 hex digits (proofmill tenants token prints one)", t.ID, h)
			}
			if other, dup := ts.byToken[h]; dup {
				return nil, fmt.Errorf("tenant %s: a token digest of tenant %s too", t.ID, other.ID)
			}
			ts.byToken[h] = t
		}
		for _, cn := range t.CertCommonNames {
			if other, dup := ts.byCN[cn]; dup || cn == "" {
				return nil, fmt.Errorf("tenant %s: certificate name %q empty or of tenant %v too", t.ID, cn, other)
			}
			ts.byCN[cn] = t
		}
		ts.all = append(ts.all, t)
	}
	if len(ts.all) == 0 {
		return nil, errors.New("no tenants")
	}
	return ts, nil
}

// Weight is a tenant's share of the workers; nil tenants (no table) and
// unknown ones weigh 1.
func (ts *Tenants) Weight(tenant string) int {
	if ts != nil && ts.byID[tenant] != nil {
		return max(1, ts.byID[tenant].Weight)
	}
	return 1
}

// Weights maps each tenant to its weight; nil without a table.
func (ts *Tenants) Weights() map[string]int {
	if ts == nil {
		return nil
	}
	m := make(map[string]int, len(ts.all))
	for _, t := range ts.all {
		m[t.ID] = max(1, t.Weight)
	}
	return m
}

// All lists the tenants in table order.
func (ts *Tenants) All() []*Tenant { return ts.all }

// TokenDigest is the hex SHA-256 a tenant table stores for a token.
func TokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// errUnauthenticated: the caller presented no credential a tenant owns.
var errUnauthenticated = errors.New("unauthenticated")

// identify names the caller's tenant: by a verified client certificate's
// common name, else by its bearer token.
func (ts *Tenants) identify(ctx context.Context) (*Tenant, error) {
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			for _, chain := range info.State.VerifiedChains {
				if len(chain) > 0 {
					if t := ts.byCN[chain[0].Subject.CommonName]; t != nil {
						return t, nil
					}
				}
			}
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if token, ok := strings.CutPrefix(v, "Bearer "); ok {
			if t := ts.byToken[TokenDigest(token)]; t != nil {
				return t, nil
			}
			return nil, fmt.Errorf("%w: unknown token", errUnauthenticated)
		}
	}
	return nil, fmt.Errorf("%w: present a client certificate or an API token (authorization: Bearer ...)", errUnauthenticated)
}

type tenantKey struct{}

// TenantFrom returns the tenant a call was authenticated as; nil without
// a tenant table.
func TenantFrom(ctx context.Context) *Tenant {
	t, _ := ctx.Value(tenantKey{}).(*Tenant)
	return t
}

// tenantID is the calling tenant's id; "" without a tenant table.
func callerID(ctx context.Context) string {
	if t := TenantFrom(ctx); t != nil {
		return t.ID
	}
	return ""
}

// open is what anyone may call without credentials.
var open = map[string]bool{"/grpc.health.v1.Health/Check": true, "/grpc.health.v1.Health/Watch": true}

// Authenticate returns interceptors that reject calls from no tenant with
// UNAUTHENTICATED and put the caller's tenant in the context.
func Authenticate(ts *Tenants) []grpc.ServerOption {
	auth := func(ctx context.Context, method string) (context.Context, error) {
		if open[method] {
			return ctx, nil
		}
		t, err := ts.identify(ctx)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		return context.WithValue(ctx, tenantKey{}, t), nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			ctx, err := auth(ctx, info.FullMethod)
			if err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			ctx, err := auth(ss.Context(), info.FullMethod)
			if err != nil {
				return err
			}
			return handler(srv, &tenantStream{ServerStream: ss, ctx: ctx})
		}),
	}
}

type tenantStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *tenantStream) Context() context.Context { return s.ctx }

// errRateLimited: the tenant submits faster than its quota.
var errRateLimited = errors.New("submission rate over quota")

// bucket is a token bucket: rate per second, up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

// allowSubmit takes one submission from the tenant's bucket.
func (ts *Tenants) allowSubmit(t *Tenant) error {
	if t == nil || t.SubmitsPerSecond == 0 {
		return nil
	}
	burst := float64(t.Burst)
	if burst == 0 {
		burst = max(1, t.SubmitsPerSecond)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.now()
	b := ts.buckets[t.ID]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		ts.buckets[t.ID] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*t.SubmitsPerSecond)
	b.last = now
	if b.tokens < 1 {
		return fmt.Errorf("tenant %s: %w: %g per second, bursts of %g", t.ID, errRateLimited, t.SubmitsPerSecond, burst)
	}
	b.tokens--
	return nil
}
