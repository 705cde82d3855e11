package node

import (
	"context"
	"sync"
	"time"

	"github.com/proofmill/proofmill/scheduler/redisq"
)

// durabilityCheckEvery bounds how often a scrape of /metrics re-reads
// whether the job store is durable (on Redis, a CONFIG GET per node).
const durabilityCheckEvery = 10 * time.Second

// durability tells whether the node's job store keeps the jobs it accepted
// through a crash or a restart, for the gauge proofmill_durable: the
// journal unless it lies on a file system in memory (tmpfs, ramfs); Redis
// while its settings keep jobs (appendonly yes, maxmemory-policy
// noeviction: what start checks, re-read here because CONFIG SET can change
// them under a running process) and it has not lost its data since start.
type durability struct {
	store string // "journal" or "redis", the gauge's store label
	read  func(ctx context.Context) bool

	mu      sync.Mutex
	checked time.Time
	last    bool
}

// journalDurability reads the journal's folder once: a folder does not
// move to another file system under a running process.
func journalDurability(dataDir string) *durability {
	durable := !inMemoryFS(dataDir)
	return &durability{store: "journal", read: func(context.Context) bool { return durable }}
}

// redisDurability re-reads the settings of conn's nodes; lost reports
// whether Redis lost its data under this process.
func redisDurability(conn *redisq.Conn, lost func() bool) *durability {
	return &durability{store: "redis", read: func(ctx context.Context) bool {
		if lost() {
			return false
		}
		all, err := conn.ReadSettings(ctx)
		if err != nil {
			return false // as at start: settings it cannot read may lose jobs
		}
		for _, s := range all {
			if len(s.Problems()) > 0 {
				return false
			}
		}
		return true
	}}
}

// Durable reports the store's label and whether it is durable now, read
// at most once per durabilityCheckEvery.
func (d *durability) Durable(ctx context.Context) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.checked.IsZero() || time.Since(d.checked) >= durabilityCheckEvery {
		d.last, d.checked = d.read(ctx), time.Now()
	}
	return d.store, d.last
}
