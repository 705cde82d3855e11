package tenants

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/proofmill/proofmill/errcode"
)

// Tenant is one institution sharing the service. Its jobs are its own:
// no other tenant can read, watch or cancel them.
type Tenant struct {
	ID string `json:"id"`
	// Weight is its share of the workers while tenants with jobs waiting
	// compete; 0 means 1.
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
	// InputKey is the file of the tenant's own input key (the public half,
	// as `proofmill keys input-key new` writes it; relative to the table's
	// folder): its documents stay on its own machines. Its clients must
	// seal to this key (plain input_json is refused), and its jobs run only
	// on workers started with --tenant and the private half: shared workers
	// skip its queues. "": the tenant seals to the service's key, if at all.
	InputKey string `json:"input_key,omitempty"`
	// DailyProofSeconds is its quota of proof-seconds per UTC day (see
	// scheduler.Usage): once its attempts recorded today took this many,
	// its submissions are refused (usage_quota) until 00:00 UTC. The job
	// that crosses it runs. 0: no quota.
	DailyProofSeconds float64 `json:"daily_proof_seconds,omitempty"`
	// Operator lets its callers read every tenant's usage (GetUsage);
	// others read only their own. Its jobs are its own as any tenant's.
	Operator bool `json:"operator,omitempty"`
}

// Dedicated reports whether the tenant's jobs run on its own workers only.
func (t *Tenant) Dedicated() bool { return t != nil && t.InputKey != "" }

var (
	// ErrUnauthenticated: the caller presented no credential a tenant owns.
	ErrUnauthenticated = errcode.New(errcode.Unauthenticated, "unauthenticated")
	// ErrRateLimited: the tenant submits faster than its quota.
	ErrRateLimited = errcode.New(errcode.RateLimited, "submission rate over quota")
)

// Table is the tenant table: who may call, and as whom. Its methods are
// safe for concurrent use; a nil *Table is the table of no tenants.
type Table struct {
	all     []*Tenant
	byID    map[string]*Tenant
	byToken map[string]*Tenant // hex SHA-256 of the token
	byCN    map[string]*Tenant

	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Load reads a tenant table: {"tenants": [Tenant, ...]}.
func Load(path string) (*Table, error) {
	if path == "" {
		return nil, errcode.Errorf(errcode.Usage, "tenants: no tenant table file given (--tenants)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	var file struct {
		Tenants []*Tenant `json:"tenants"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, errcode.E("", errcode.BadRequest, fmt.Errorf("tenants: %s: %w", path, err))
	}
	for _, t := range file.Tenants {
		if t != nil && t.InputKey != "" && !filepath.IsAbs(t.InputKey) {
			t.InputKey = filepath.Join(filepath.Dir(path), t.InputKey)
		}
	}
	t, err := New(file.Tenants)
	if err != nil {
		return nil, errcode.E("", errcode.BadRequest, fmt.Errorf("tenants: %s: %w", path, err))
	}
	return t, nil
}

// New checks a tenant table: ids unique and well formed, each token and
// certificate name belonging to one tenant, limits not negative.
func New(list []*Tenant) (*Table, error) {
	ts := &Table{byID: map[string]*Tenant{}, byToken: map[string]*Tenant{}, byCN: map[string]*Tenant{}, buckets: map[string]*bucket{}, now: time.Now}
	for _, t := range list {
		switch {
		case !idPattern.MatchString(t.ID):
			return nil, fmt.Errorf("tenant id %q: want 1 to 63 of a-z 0-9 . _ -, starting with a letter or digit", t.ID)
		case ts.byID[t.ID] != nil:
			return nil, fmt.Errorf("tenant %s: listed twice", t.ID)
		case t.Weight < 0 || t.MaxQueued < 0 || t.SubmitsPerSecond < 0 || t.Burst < 0 || t.DailyProofSeconds < 0:
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

// Find returns a tenant by id; nil if there is none (or no table).
func (ts *Table) Find(id string) *Tenant {
	if ts == nil {
		return nil
	}
	return ts.byID[id]
}

// Dedicated lists the tenants whose jobs only their own workers run.
func (ts *Table) Dedicated() []string {
	var ids []string
	for _, t := range ts.All() {
		if t.Dedicated() {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// All lists the tenants in table order.
func (ts *Table) All() []*Tenant {
	if ts == nil {
		return nil
	}
	return ts.all
}

// Weight is a tenant's share of the workers; unknown tenants (and every
// tenant of a nil table) weigh 1.
func (ts *Table) Weight(tenant string) int {
	if ts != nil && ts.byID[tenant] != nil {
		return max(1, ts.byID[tenant].Weight)
	}
	return 1
}

// Weights maps each tenant to its weight; nil for a nil table.
func (ts *Table) Weights() map[string]int {
	if ts == nil {
		return nil
	}
	m := make(map[string]int, len(ts.all))
	for _, t := range ts.all {
		m[t.ID] = max(1, t.Weight)
	}
	return m
}

// ByToken finds the tenant an API token belongs to.
func (ts *Table) ByToken(token string) (*Tenant, error) {
	if t := ts.byToken[Digest(token)]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
}

// ByCertName finds the tenant a verified client certificate's subject
// common name belongs to.
func (ts *Table) ByCertName(cn string) (*Tenant, bool) {
	t := ts.byCN[cn]
	return t, t != nil
}

// Digest is the hex SHA-256 a tenant table stores for a token.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes an API token: 32 random bytes, base64url, prefixed "pm_".
func NewToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return "pm_" + base64.RawURLEncoding.EncodeToString(raw), nil
}

// bucket is a token bucket: rate per second, up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one submission from the tenant's rate quota, or fails with
// ErrRateLimited naming the tenant and its limit. A nil tenant, or one
// without a rate, is always allowed.
func (ts *Table) Allow(t *Tenant) error {
	if ts == nil || t == nil || t.SubmitsPerSecond == 0 {
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
		return fmt.Errorf("tenant %s: %w: %g per second, bursts of %g", t.ID, ErrRateLimited, t.SubmitsPerSecond, burst)
	}
	b.tokens--
	return nil
}

type contextKey struct{}

// With returns ctx carrying the tenant a call runs as.
func With(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, contextKey{}, t)
}

// From returns the tenant a call runs as; nil without a tenant table.
func From(ctx context.Context) *Tenant {
	t, _ := ctx.Value(contextKey{}).(*Tenant)
	return t
}

// ID is the id of the tenant a call runs as; "" without a tenant table.
func ID(ctx context.Context) string {
	if t := From(ctx); t != nil {
		return t.ID
	}
	return ""
}

func (t *Tenant) String() string {
	s := fmt.Sprintf("%s: weight %d, max queued %d, %g submissions/s, %d tokens, %d certificate names",
		t.ID, max(1, t.Weight), t.MaxQueued, t.SubmitsPerSecond, len(t.TokensSHA256), len(t.CertCommonNames))
	if t.DailyProofSeconds > 0 {
		s += fmt.Sprintf(", %g proof-seconds a day", t.DailyProofSeconds)
	}
	if t.Operator {
		s += ", operator"
	}
	return s
}
