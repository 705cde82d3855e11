package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/redisq"
	"github.com/proofmill/proofmill/tenants"
	"github.com/proofmill/proofmill/vault"
)

// DataKeysPath is the embedded backend's ring of wrapped data keys in a
// data folder; on Redis they live in Redis.
func DataKeysPath(dataDir string) string { return filepath.Join(dataDir, "data-keys.json") }

// privacy is what a node keeps documents private with: the vault that
// encrypts inputs at rest, and the input keys that open sealed ones.
type privacy struct {
	vault *vault.Vault // nil: a tenant's worker without a master key (its sealed jobs only)
	keys  map[string]*sealed.PrivateKey
	// published is the key a server's clients seal to, unless their tenant
	// has its own.
	published *sealed.PrivateKey
	tenants   *tenants.Table
	own       map[string]*sealed.PublicKey // tenants' own input keys
}

// openPrivacy loads the master key (a server makes one if there is none),
// the data-key ring, the input keys, and the tenants' own input keys.
func openPrivacy(cfg Config, ring vault.Ring, table *tenants.Table, log *slog.Logger) (*privacy, error) {
	p := &privacy{keys: map[string]*sealed.PrivateKey{}, tenants: table, own: map[string]*sealed.PublicKey{}}
	masters, err := masterKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	if len(masters) > 0 {
		if p.vault, err = vault.New(vault.Config{Masters: masters, Ring: ring, Logger: log}); err != nil {
			return nil, err
		}
		log.Info("inputs encrypted at rest", "master_key", masters[0].ID())
	}
	for i, path := range cfg.InputKeys {
		var k *sealed.PrivateKey
		created := false
		if cfg.Role == Serve && i == 0 {
			k, created, err = sealed.LoadOrCreateKey(path)
		} else {
			k, err = sealed.LoadKey(path)
		}
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("made an input key for sealed inputs", "file", path, "input_key", k.ID())
		}
		if i == 0 {
			p.published = k
		}
		p.keys[k.ID()] = k
	}
	for _, t := range table.All() {
		if !t.Dedicated() {
			continue
		}
		if cfg.Redis == "" {
			return nil, errcode.Errorf(errcode.Usage, "tenant %s has an input key of its own: its jobs run on its own workers (`proofmill worker --tenant %s`), which take jobs from Redis: serve with --redis", t.ID, t.ID)
		}
		data, err := os.ReadFile(t.InputKey)
		if err != nil {
			return nil, errcode.Errorf(errcode.Usage, "tenant %s: input key: %w", t.ID, err)
		}
		pub, err := sealed.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: input key %s: %w", t.ID, t.InputKey, err)
		}
		p.own[t.ID] = pub
	}
	if cfg.Role == Worker {
		ids := make([]string, 0, len(p.keys))
		for id := range p.keys {
			ids = append(ids, id)
		}
		log.Info("input keys", "ids", ids, "tenant", cfg.Tenant)
	}
	return p, nil
}

// masterKeys are the master key (from the environment's text or a file; a
// server makes master.key in its data folder if neither is given) and the
// old ones that only unwrap. A tenant's worker may have none.
func masterKeys(cfg Config, log *slog.Logger) ([]*vault.MasterKey, error) {
	var current *vault.MasterKey
	var err error
	switch {
	case cfg.MasterKeyText != "":
		current, err = vault.ParseMasterKey([]byte(cfg.MasterKeyText))
	case cfg.MasterKey != "":
		current, err = vault.LoadMasterKey(cfg.MasterKey)
	case cfg.Role == Serve:
		path := filepath.Join(cfg.DataDir, "master.key")
		var created bool
		if current, created, err = vault.LoadOrCreateMasterKey(path); created {
			log.Warn("made a master key for the inputs at rest beside the data it protects: keep it apart (a secret store, --master-key or $PROOFMILL_MASTER_KEY) "+
				"and give the same key to every server and worker sharing the jobs", "file", path, "master_key", current.ID())
		}
	case cfg.Tenant != "":
		log.Warn("no master key: this worker proves its tenant's sealed jobs only", "tenant", cfg.Tenant)
		return nil, nil
	default:
		return nil, errcode.Errorf(errcode.Usage, "worker: no master key: give the servers' --master-key (or $PROOFMILL_MASTER_KEY); "+
			"a worker decrypts the inputs it proves (a worker with --tenant that proves only sealed jobs needs none)")
	}
	if err != nil {
		return nil, err
	}
	masters := []*vault.MasterKey{current}
	for _, path := range cfg.OldMasterKeys {
		m, err := vault.LoadMasterKey(path)
		if err != nil {
			return nil, err
		}
		masters = append(masters, m)
	}
	return masters, nil
}

// cipher is the scheduler's InputCipher, if this node has a vault.
func (p *privacy) cipher() scheduler.InputCipher {
	if p.vault == nil {
		return nil
	}
	return p.vault
}

// For is the input key a tenant's clients seal to (server.InputKeys).
func (p *privacy) For(tenant string) (*sealed.PublicKey, error) {
	if k := p.own[tenant]; k != nil {
		return k, nil
	}
	if p.published == nil {
		return nil, errcode.Errorf(errcode.InputKeyUnknown, "this server publishes no input key")
	}
	return p.published.Public(), nil
}

// SealedOnly reports whether a tenant's inputs must come sealed: it has an
// input key of its own, so plaintext would defeat its purpose.
func (p *privacy) SealedOnly(tenant string) bool { return p.own[tenant] != nil }

// Open opens a sealed input with an input key this worker holds
// (worker.InputKeys).
func (p *privacy) Open(keyID, tenant, circuit string, data []byte) ([]byte, error) {
	k := p.keys[keyID]
	if k == nil {
		return nil, errcode.Errorf(errcode.InputKeyMissing, "the job is sealed to input key %s, which this worker does not hold (--input-key)", keyID)
	}
	return k.Open(tenant, circuit, data)
}

// retire rotates each tenant's data key whose newest version is older
// than every (0: none), then destroys the versions no unfinished job uses.
// A server's housekeeping runs it; servers sharing Redis judge the same
// ages, and only one of them makes each next version.
func (p *privacy) retire(ctx context.Context, store scheduler.Store, every time.Duration, log *slog.Logger) {
	if p.vault == nil {
		return
	}
	if every > 0 {
		keys, err := p.vault.Keys(ctx)
		if err != nil {
			log.Warn("data keys: rotation", "err", err)
			return
		}
		newest := map[string]vault.DataKey{}
		for _, k := range keys { // oldest version first
			newest[k.Tenant] = k
		}
		for t, k := range newest {
			if time.Since(k.Created) < every {
				continue
			}
			if next, err := p.vault.Rotate(ctx, t); err != nil {
				log.Warn("data keys: rotation", "tenant", t, "err", err)
			} else {
				log.Info("data keys: rotated", "data_key", next.Name(), "previous_made", k.Created)
			}
		}
	}
	if _, err := p.vault.Retire(ctx, func(ctx context.Context) (map[string]bool, error) { return keysInUse(ctx, store) }); err != nil {
		log.Warn("data keys: retiring", "err", err)
	}
}

// keysInUse reads every unfinished job for the data key its input needs.
func keysInUse(ctx context.Context, store scheduler.Store) (map[string]bool, error) {
	ids, err := store.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	jobs := make([]*scheduler.Job, 0, len(ids))
	for _, j := range ids {
		full, err := store.Get(ctx, j.ID)
		if errcode.Of(err) == errcode.JobNotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		jobs = append(jobs, full)
	}
	return vault.InUse(jobs), nil
}

// DataKeys opens the data keys a server with cfg uses (its Redis, or the
// ring in its data folder) under its master key, for `keys data-key`. A
// missing master key is made, as serve would.
func DataKeys(ctx context.Context, cfg Config) (*vault.Vault, func() error, error) {
	cfg.Role = Serve
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	masters, err := masterKeys(cfg, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	var ring vault.Ring = vault.FileRing{Path: DataKeysPath(cfg.DataDir)}
	closeRing := func() error { return nil }
	if cfg.Redis != "" {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, err := redisq.Dial(dctx, cfg.Redis)
		if err != nil {
			return nil, nil, err
		}
		ring, closeRing = redisq.NewStore(conn, redisq.StoreConfig{MinReplicas: cfg.RedisMinReplicas, ReplicaTimeout: cfg.RedisReplicaTimeout}), conn.Close
	}
	v, err := vault.New(vault.Config{Masters: masters, Ring: ring, Logger: cfg.Logger})
	if err != nil {
		closeRing()
		return nil, nil, err
	}
	return v, closeRing, nil
}
