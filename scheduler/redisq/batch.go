package redisq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

const batchPrefix = "proofmill:batch:"

// ErrNoBatch: no batch record under that ID (never made, or expired).
var ErrNoBatch = errors.New("no such batch")

// SaveBatch stores a batch record (what `proofmill batch` submitted), kept
// for ttl.
func (c *Conn) SaveBatch(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	if err := c.client.Set(ctx, batchPrefix+id, record, ttl).Err(); err != nil {
		return fmt.Errorf("redisq: save batch %s: %w", id, err)
	}
	return nil
}

// LoadBatch reads a batch record.
func (c *Conn) LoadBatch(ctx context.Context, id string) ([]byte, error) {
	data, err := c.client.Get(ctx, batchPrefix+id).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("redisq: batch %s: %w", id, ErrNoBatch)
	case err != nil:
		return nil, fmt.Errorf("redisq: batch %s: %w", id, err)
	}
	return data, nil
}
