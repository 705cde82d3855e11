package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// DataKey is one version of a tenant's data key, as a Ring stores it:
// wrapped by a master key.
type DataKey struct {
	Tenant  string    `json:"tenant"` // "" for jobs of no tenant
	Version int       `json:"version"`
	Master  string    `json:"master_key_id"` // the MasterKey.ID that wraps it
	Wrapped []byte    `json:"wrapped"`       // nonce ‖ AES-256-GCM of the key; the tenant and version are bound to it
	Created time.Time `json:"created"`
}

// Name is "tenant/version" ("/1" for no tenant).
func (k DataKey) Name() string { return k.Tenant + "/" + strconv.Itoa(k.Version) }

// Ring stores the wrapped data keys every process sharing the jobs uses.
type Ring interface {
	DataKeys(ctx context.Context) ([]DataKey, error)
	// AddDataKey stores k, unless its tenant already has that version:
	// then it returns false, and another process's key stands.
	AddDataKey(ctx context.Context, k DataKey) (bool, error)
	// ReplaceDataKey overwrites a stored version (re-wrapped).
	ReplaceDataKey(ctx context.Context, k DataKey) error
	// DeleteDataKey destroys a version; a missing one is no error.
	DeleteDataKey(ctx context.Context, tenant string, version int) error
}

// Config makes a Vault.
type Config struct {
	// Masters are the master keys: the first wraps new data keys, the
	// others only unwrap (while a master key is replaced). At least one.
	Masters []*MasterKey
	Ring    Ring
	// Refresh is how long the newest version a process knows is used
	// before the ring is read again, to pick up another process's rotation.
	// 0 means 1 minute.
	Refresh time.Duration
	Now     func() time.Time // nil means time.Now
	Logger  *slog.Logger     // nil means slog.Default()
}

// Vault encrypts and decrypts jobs' witnesses; it implements
// scheduler.InputCipher. Safe for concurrent use.
type Vault struct {
	cfg Config

	mu      sync.Mutex
	keys    map[string][]byte // unwrapped, by DataKey.Name
	newest  map[string]int    // tenant → newest version known
	stored  []DataKey         // the ring as last read
	readAt  time.Time
	masters map[string]*MasterKey
}

// Errors; each says what to do.
var (
	ErrNoDataKey = errcode.New(errcode.DataKey, "vault: data key missing")
	ErrWrongKey  = errcode.New(errcode.DataKey, "vault: data key does not open")
)

// New returns a Vault over cfg.Ring.
func New(cfg Config) (*Vault, error) {
	if len(cfg.Masters) == 0 || cfg.Masters[0] == nil {
		return nil, errcode.Errorf(errcode.Usage, "vault: no master key")
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &Vault{cfg: cfg, keys: map[string][]byte{}, newest: map[string]int{}, masters: map[string]*MasterKey{}}
	for _, m := range cfg.Masters {
		v.masters[m.ID()] = m
	}
	return v, nil
}

// MasterID is the id of the master key that wraps new data keys.
func (v *Vault) MasterID() string { return v.cfg.Masters[0].ID() }

// Encrypt encrypts a job's witness under a fresh key of its own, wrapped
// by the newest version of the tenant's data key (made if the tenant has
// none yet).
func (v *Vault) Encrypt(ctx context.Context, tenant, job string, witness []byte) (*scheduler.Ciphertext, error) {
	version, key, err := v.current(ctx, tenant)
	if err != nil {
		return nil, err
	}
	jobKey := make([]byte, KeySize)
	if _, err := rand.Read(jobKey); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	wrapped, err := seal(key, jobKey, jobKeyAAD(tenant, job, version))
	if err != nil {
		return nil, err
	}
	data, err := seal(jobKey, witness, inputAAD(tenant, job))
	if err != nil {
		return nil, err
	}
	return &scheduler.Ciphertext{KeyVersion: version, JobKey: wrapped, Data: data}, nil
}

// Decrypt opens what Encrypt made for the same tenant and job.
func (v *Vault) Decrypt(ctx context.Context, tenant, job string, c *scheduler.Ciphertext) ([]byte, error) {
	key, err := v.key(ctx, tenant, c.KeyVersion)
	if err != nil {
		return nil, err
	}
	jobKey, err := open(key, c.JobKey, jobKeyAAD(tenant, job, c.KeyVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: job %s: its key does not open under data key %s/%d (the record was changed, or moved from another job or tenant)",
			ErrWrongKey, job, tenant, c.KeyVersion)
	}
	witness, err := open(jobKey, c.Data, inputAAD(tenant, job))
	if err != nil {
		return nil, fmt.Errorf("%w: job %s: its input does not open (the record was changed, or moved from another job or tenant)", ErrWrongKey, job)
	}
	return witness, nil
}

// current is the tenant's newest data key, read again from the ring when
// the last read is older than Refresh; a tenant with none gets version 1.
func (v *Vault) current(ctx context.Context, tenant string) (int, []byte, error) {
	v.mu.Lock()
	fresh := v.cfg.Now().Sub(v.readAt) < v.cfg.Refresh
	version, known := v.newest[tenant]
	v.mu.Unlock()
	if !fresh || !known {
		if err := v.read(ctx); err != nil {
			return 0, nil, err
		}
		v.mu.Lock()
		version, known = v.newest[tenant]
		v.mu.Unlock()
	}
	if !known {
		k, err := v.add(ctx, tenant, 1)
		if err != nil {
			return 0, nil, err
		}
		version = k.Version
	}
	key, err := v.key(ctx, tenant, version)
	return version, key, err
}

// key is one version of a tenant's data key, unwrapped.
func (v *Vault) key(ctx context.Context, tenant string, version int) ([]byte, error) {
	name := DataKey{Tenant: tenant, Version: version}.Name()
	v.mu.Lock()
	key, ok := v.keys[name]
	fresh := v.cfg.Now().Sub(v.readAt) < v.cfg.Refresh
	v.mu.Unlock()
	if ok && fresh { // a destroyed key is forgotten within Refresh
		return key, nil
	}
	if err := v.read(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if key, ok := v.keys[name]; ok {
		return key, nil
	}
	for _, k := range v.stored {
		if k.Tenant == tenant && k.Version == version {
			return nil, fmt.Errorf("%w: data key %s is wrapped by master key %s, and this process has %s: give every server and worker the same --master-key",
				ErrWrongKey, name, k.Master, v.masterIDs())
		}
	}
	return nil, fmt.Errorf("%w: tenant %q has no data key version %d (destroyed, or never made in this ring): the job's input cannot be read; submit it again",
		ErrNoDataKey, tenant, version)
}

func (v *Vault) masterIDs() string {
	ids := make([]string, 0, len(v.masters))
	for id := range v.masters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return fmt.Sprint(ids)
}

// read loads the ring, unwrapping every key a master key here wraps.
func (v *Vault) read(ctx context.Context) error {
	stored, err := v.cfg.Ring.DataKeys(ctx)
	if err != nil {
		return fmt.Errorf("vault: reading the data keys: %w", err)
	}
	keys := map[string][]byte{}
	newest := map[string]int{}
	for _, k := range stored {
		newest[k.Tenant] = max(newest[k.Tenant], k.Version)
		m := v.masters[k.Master]
		if m == nil {
			continue // reported when a job needs it
		}
		key, err := open(m.key, k.Wrapped, dataKeyAAD(k.Tenant, k.Version))
		if err != nil {
			v.cfg.Logger.Error("vault: a stored data key does not open under its master key", "data_key", k.Name(), "master_key", k.Master)
			continue
		}
		keys[k.Name()] = key
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys, v.newest, v.stored, v.readAt = keys, newest, stored, v.cfg.Now()
	return nil
}

// add makes version of a tenant's data key. If another process made that
// version first, its key stands and is returned.
func (v *Vault) add(ctx context.Context, tenant string, version int) (DataKey, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return DataKey{}, fmt.Errorf("vault: %w", err)
	}
	m := v.cfg.Masters[0]
	wrapped, err := seal(m.key, key, dataKeyAAD(tenant, version))
	if err != nil {
		return DataKey{}, err
	}
	k := DataKey{Tenant: tenant, Version: version, Master: m.ID(), Wrapped: wrapped, Created: v.cfg.Now().UTC()}
	added, err := v.cfg.Ring.AddDataKey(ctx, k)
	if err != nil {
		return DataKey{}, fmt.Errorf("vault: storing data key %s: %w", k.Name(), err)
	}
	if err := v.read(ctx); err != nil {
		return DataKey{}, err
	}
	if added {
		v.cfg.Logger.Info("vault: made a data key", "data_key", k.Name(), "master_key", m.ID())
		return k, nil
	}
	for _, s := range v.stored {
		if s.Tenant == tenant && s.Version == version {
			return s, nil
		}
	}
	return DataKey{}, fmt.Errorf("%w: data key %s was made by another process and is gone again", ErrNoDataKey, k.Name())
}

// Keys lists the ring's data keys, oldest version first.
func (v *Vault) Keys(ctx context.Context) ([]DataKey, error) {
	if err := v.read(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	keys := slices.Clone(v.stored)
	slices.SortFunc(keys, func(a, b DataKey) int {
		if a.Tenant != b.Tenant {
			if a.Tenant < b.Tenant {
				return -1
			}
			return 1
		}
		return a.Version - b.Version
	})
	return keys, nil
}

// NewKey makes a tenant's first data key; a tenant that has one already
// is KeysExist (use Rotate).
func (v *Vault) NewKey(ctx context.Context, tenant string) (DataKey, error) {
	if err := v.read(ctx); err != nil {
		return DataKey{}, err
	}
	v.mu.Lock()
	have, exists := v.newest[tenant]
	v.mu.Unlock()
	if exists {
		return DataKey{}, errcode.Errorf(errcode.KeysExist, "vault: tenant %q has a data key (version %d); `keys data-key rotate` makes the next", tenant, have)
	}
	return v.add(ctx, tenant, 1)
}

// Rotate makes the next version of a tenant's data key, used for new jobs
// (by other processes once they read the ring again, within Refresh).
// Queued jobs keep theirs until Retire finds them done.
func (v *Vault) Rotate(ctx context.Context, tenant string) (DataKey, error) {
	if err := v.read(ctx); err != nil {
		return DataKey{}, err
	}
	v.mu.Lock()
	next := v.newest[tenant] + 1
	v.mu.Unlock()
	return v.add(ctx, tenant, next)
}

// Tenants lists the tenants that have data keys.
func (v *Vault) Tenants(ctx context.Context) ([]string, error) {
	keys, err := v.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if !slices.Contains(out, k.Tenant) {
			out = append(out, k.Tenant)
		}
	}
	return out, nil
}

// Rewrap re-wraps every data key that an older master key wraps under the
// first one, and returns how many it re-wrapped. No job is re-encrypted.
// Keys wrapped by a master key this vault lacks are an error, and left.
func (v *Vault) Rewrap(ctx context.Context) (int, error) {
	if err := v.read(ctx); err != nil {
		return 0, err
	}
	v.mu.Lock()
	stored := slices.Clone(v.stored)
	keys := v.keys
	v.mu.Unlock()
	m := v.cfg.Masters[0]
	n := 0
	for _, k := range stored {
		if k.Master == m.ID() {
			continue
		}
		key, ok := keys[k.Name()]
		if !ok {
			return n, fmt.Errorf("%w: data key %s is wrapped by master key %s, which is not among this process's %s: give it as --old-master-key",
				ErrWrongKey, k.Name(), k.Master, v.masterIDs())
		}
		wrapped, err := seal(m.key, key, dataKeyAAD(k.Tenant, k.Version))
		if err != nil {
			return n, err
		}
		k.Master, k.Wrapped = m.ID(), wrapped
		if err := v.cfg.Ring.ReplaceDataKey(ctx, k); err != nil {
			return n, fmt.Errorf("vault: re-wrapping %s: %w", k.Name(), err)
		}
		n++
	}
	return n, v.read(ctx)
}

// Retire destroys the data-key versions that no job needs: older than the
// tenant's newest, superseded for at least twice Refresh (every process
// has moved on to the newer one), and used by no unfinished job (inUse
// reports one). It returns the names destroyed.
func (v *Vault) Retire(ctx context.Context, inUse func(ctx context.Context) (map[string]bool, error)) ([]string, error) {
	if err := v.read(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	stored := slices.Clone(v.stored)
	v.mu.Unlock()
	created := map[string]time.Time{}
	newest := map[string]int{}
	for _, k := range stored {
		created[k.Name()] = k.Created
		newest[k.Tenant] = max(newest[k.Tenant], k.Version)
	}
	var candidates []DataKey
	for _, k := range stored {
		successor, ok := created[DataKey{Tenant: k.Tenant, Version: k.Version + 1}.Name()]
		if k.Version < newest[k.Tenant] && (!ok || v.cfg.Now().Sub(successor) >= 2*v.cfg.Refresh) {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		return nil, nil // the common case: no job scan
	}
	used, err := inUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault: finding the data keys unfinished jobs use: %w", err)
	}
	var gone []string
	for _, k := range candidates {
		if used[k.Name()] {
			continue
		}
		if err := v.cfg.Ring.DeleteDataKey(ctx, k.Tenant, k.Version); err != nil {
			return gone, fmt.Errorf("vault: destroying data key %s: %w", k.Name(), err)
		}
		v.cfg.Logger.Info("vault: destroyed a data key no unfinished job uses", "data_key", k.Name())
		gone = append(gone, k.Name())
	}
	return gone, v.read(ctx)
}

// InUse collects the data-key versions that jobs' stored inputs name.
func InUse(jobs []*scheduler.Job) map[string]bool {
	used := map[string]bool{}
	for _, j := range jobs {
		if j.EncryptedWitness != nil {
			used[DataKey{Tenant: j.Tenant, Version: j.EncryptedWitness.KeyVersion}.Name()] = true
		}
	}
	return used
}

// The associated data of each layer names what it belongs to.
func dataKeyAAD(tenant string, version int) []byte {
	return []byte("proofmill data key v1\x00" + tenant + "\x00" + strconv.Itoa(version))
}

func jobKeyAAD(tenant, job string, version int) []byte {
	return []byte("proofmill job key v1\x00" + tenant + "\x00" + job + "\x00" + strconv.Itoa(version))
}

func inputAAD(tenant, job string) []byte {
	return []byte("proofmill job input v1\x00" + tenant + "\x00" + job)
}

// seal is AES-256-GCM with a random nonce, which it prepends.
func seal(key, plaintext, aad []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

func open(key, sealed, aad []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("vault: ciphertext of %d bytes is too short", len(sealed))
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return cipher.NewGCM(block)
}
