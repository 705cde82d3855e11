package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// bucketUsage holds the usage tallies: key day NUL tenant NUL circuit NUL
// backend (so a walk from a day reads that day on), value the sealed
// JSON of the figures. Made by the first tally.
var bucketUsage = []byte("usage")

// tally is a Usage's figures as stored.
type tally struct {
	Proofs      int64 `json:"proofs"`
	ProofMillis int64 `json:"proof_ms"`
	Constraints int64 `json:"constraints"`
	StoredBytes int64 `json:"stored_bytes"`
}

func usageKey(u scheduler.Usage) []byte {
	return []byte(strings.Join([]string{u.Day, u.Tenant, u.Circuit, u.Backend}, "\x00"))
}

// addUsage reads u's tally and returns it with u added, encoded: all that
// can fail before the job's write.
func addUsage(tx *bolt.Tx, u scheduler.Usage) ([]byte, error) {
	var t tally
	key := usageKey(u)
	if b := tx.Bucket(bucketUsage); b != nil {
		if v := b.Get(key); v != nil {
			if err := decodeTally(key, v, &t); err != nil {
				return nil, err
			}
		}
	}
	t.Proofs += u.Proofs
	t.ProofMillis += u.ProofMillis
	t.Constraints += u.Constraints
	t.StoredBytes += u.StoredBytes
	data, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return seal(key, data), nil
}

// putUsage writes a tally addUsage made. A day's first tally also deletes
// the days past scheduler.UsageRetention: a walk over the oldest keys,
// once a day.
func putUsage(tx *bolt.Tx, u scheduler.Usage, value []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucketUsage)
	if err != nil {
		return err
	}
	key := usageKey(u)
	if b.Get(key) == nil {
		if err := expireUsage(b, u.Day); err != nil {
			return err
		}
	}
	return b.Put(key, value)
}

// expireUsage deletes the tallies of days more than UsageRetention before
// day.
func expireUsage(b *bolt.Bucket, day string) error {
	d, err := time.Parse(scheduler.DayLayout, day)
	if err != nil {
		return fmt.Errorf("usage tally: day %q: %w", day, err)
	}
	cutoff := []byte(scheduler.Day(d.Add(-scheduler.UsageRetention)))
	c := b.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, cutoff) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Usage lists the tallies q selects. A damaged tally is an error naming
// it: a bill is not made of what can be read.
func (s *Store) Usage(_ context.Context, q scheduler.UsageQuery) ([]scheduler.Usage, error) {
	var out []scheduler.Usage
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsage)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(q.Since)); k != nil; k, v = c.Next() {
			parts := strings.Split(string(k), "\x00")
			if len(parts) != 4 {
				return fmt.Errorf("usage tally %q: malformed key", k)
			}
			if !q.All && parts[1] != q.Tenant {
				continue
			}
			var t tally
			if err := decodeTally(k, v, &t); err != nil {
				return err
			}
			out = append(out, scheduler.Usage{Day: parts[0], Tenant: parts[1], Circuit: parts[2], Backend: parts[3],
				Proofs: t.Proofs, ProofMillis: t.ProofMillis, Constraints: t.Constraints, StoredBytes: t.StoredBytes})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return out, nil
}

// decodeTally checks a tally's checksum and decodes it; a damaged one is
// a CorruptRecord error naming its day, tenant, circuit and backend.
func decodeTally(key, value []byte, t *tally) error {
	payload, _, err := unseal(key, value)
	if err == nil {
		err = json.Unmarshal(payload, t)
	}
	if err != nil {
		return errcode.Errorf(errcode.CorruptRecord, "usage tally %s: %w", bytes.ReplaceAll(key, []byte{0}, []byte{' '}), err)
	}
	return nil
}
