package redisq

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/errcode"
)

// Settings are the Redis settings that decide whether an accepted job
// survives a Redis restart or a full memory.
type Settings struct {
	Node            string // the node they were read from
	AppendOnly      string // "yes" or "no"
	AppendFsync     string // "always", "everysec", "no"; "" when it could not be read
	MaxmemoryPolicy string // "noeviction", "allkeys-lru", …
	// FromInfo: CONFIG is disabled or renamed (as on some managed Redis),
	// so the settings come from INFO, which lacks appendfsync.
	FromInfo bool
}

// ReadSettings reads the settings of each node that holds proofmill's
// data: the one server (or Sentinel's master), or each Cluster master.
// It reads CONFIG GET, and INFO where CONFIG is refused.
func (c *Conn) ReadSettings(ctx context.Context) ([]Settings, error) {
	cluster, ok := c.client.(*redis.ClusterClient)
	if !ok {
		s, err := readSettings(ctx, c.client)
		if err != nil {
			return nil, err
		}
		return []Settings{s}, nil
	}
	var (
		mu  sync.Mutex
		out []Settings
	)
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		s, err := readSettings(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		out = append(out, s)
		mu.Unlock()
		return nil
	})
	return out, err
}

func readSettings(ctx context.Context, c redis.UniversalClient) (Settings, error) {
	node := "redis"
	if cl, ok := c.(*redis.Client); ok {
		node = cl.Options().Addr
		if node == "FailoverClient" { // go-redis's name for the client behind Sentinel
			node = "the master behind Sentinel"
		}
	}
	s := Settings{Node: node}
	var cerr error
	for _, kv := range []struct {
		name string
		to   *string
	}{{"appendonly", &s.AppendOnly}, {"appendfsync", &s.AppendFsync}, {"maxmemory-policy", &s.MaxmemoryPolicy}} {
		vals, err := c.ConfigGet(ctx, kv.name).Result()
		if err != nil {
			cerr = err
			break
		}
		*kv.to = vals[kv.name]
	}
	if cerr == nil && s.AppendOnly != "" && s.MaxmemoryPolicy != "" {
		return s, nil
	}
	info, err := c.Info(ctx, "persistence", "memory").Result()
	if err != nil {
		return s, fmt.Errorf("redisq: read the settings of %s: CONFIG GET: %v; INFO: %w", node, cerr, err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	aof, ok1 := fields["aof_enabled"]
	policy, ok2 := fields["maxmemory_policy"]
	if !ok1 || !ok2 {
		return s, fmt.Errorf("redisq: read the settings of %s: CONFIG GET: %v; INFO lacks aof_enabled or maxmemory_policy", node, cerr)
	}
	s.AppendOnly = map[bool]string{true: "yes", false: "no"}[aof == "1"]
	s.MaxmemoryPolicy, s.AppendFsync, s.FromInfo = policy, "", true
	return s, nil
}

// Problems are what makes s lose accepted jobs: no append-only file, or a
// policy that evicts keys when memory is full. Each says what to set.
func (s Settings) Problems() []string {
	var p []string
	if s.AppendOnly != "yes" {
		p = append(p, fmt.Sprintf("appendonly is %q: a Redis restart loses every job (set appendonly yes, with appendfsync always or everysec, in redis.conf and with CONFIG SET)", s.AppendOnly))
	}
	if s.MaxmemoryPolicy != "noeviction" {
		p = append(p, fmt.Sprintf("maxmemory-policy is %q: a full Redis evicts jobs and results (set maxmemory-policy noeviction; full memory then refuses submissions instead)", s.MaxmemoryPolicy))
	}
	return p
}

// DurabilityConfig is what CheckDurability accepts.
type DurabilityConfig struct {
	// Volatile accepts a Redis that may lose jobs (no persistence, an
	// evicting policy, settings that cannot be read), with a warning.
	Volatile bool
	Logger   *slog.Logger // nil means slog.Default()
}

// CheckDurability reads the settings of c's nodes and refuses (an
// errcode.Usage error saying why and what to set) a Redis that loses
// accepted jobs on a restart or when full, unless cfg.Volatile. A Redis
// whose settings cannot be read at all is refused the same way: it may
// be either. An appendfsync other than always or everysec only warns.
func CheckDurability(ctx context.Context, c *Conn, cfg DurabilityConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	all, err := c.ReadSettings(ctx)
	if err != nil {
		if cfg.Volatile {
			log.Warn("Redis settings could not be read; going on because of --redis-volatile", "err", err)
			return nil
		}
		return errcode.Errorf(errcode.Usage, "%w: proofmill cannot tell whether Redis keeps accepted jobs; allow CONFIG GET or INFO for proofmill's user, or pass --redis-volatile to accept that jobs may be lost", err)
	}
	var problems []string
	for _, s := range all {
		switch {
		case s.FromInfo:
			log.Warn("Redis refuses CONFIG GET (disabled or renamed); read appendonly and maxmemory-policy from INFO, and cannot check appendfsync: make sure it is always or everysec", "redis", s.Node)
		case s.AppendFsync != "always" && s.AppendFsync != "everysec":
			log.Warn("Redis appendfsync is not always or everysec: a crash of the machine can lose jobs Redis acknowledged", "redis", s.Node, "appendfsync", s.AppendFsync)
		}
		for _, p := range s.Problems() {
			problems = append(problems, s.Node+": "+p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if cfg.Volatile {
		log.Warn("Redis may lose accepted jobs; going on because of --redis-volatile", "problems", strings.Join(problems, "; "))
		return nil
	}
	return errcode.Errorf(errcode.Usage, "redisq: Redis would lose accepted jobs: %s; or pass --redis-volatile to run on it knowingly", strings.Join(problems, "; "))
}
