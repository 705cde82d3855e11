package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/errcode"
)

// generationKey holds a random id written by the first process to start
// on a Redis, and never expiring: if it vanishes or changes, Redis lost
// (or replaced) its data under the processes that remember it. Its hash
// tag puts it on the jobs' Cluster slot, so it goes when they go.
const generationKey = "proofmill:{j}:generation"

// ErrDataLost: the generation key vanished or changed.
var ErrDataLost = errcode.New(errcode.Unavailable, "Redis lost its data")

// Generation is the id a process found (or wrote) at start.
type Generation struct {
	client  redis.UniversalClient
	id      string
	created bool

	mu   sync.Mutex
	lost error // sticky: once lost, always lost for this process
}

// Generation reads the generation id, writing a new one if there is none
// (the first process on this Redis, or one whose data was lost before
// this process started: that loss is not detectable here).
func (c *Conn) Generation(ctx context.Context) (*Generation, error) {
	var b [16]byte
	rand.Read(b[:])
	created, err := c.client.SetNX(ctx, generationKey, hex.EncodeToString(b[:]), 0).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: write the generation key: %w", unavailable(err))
	}
	id, err := c.client.Get(ctx, generationKey).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: read the generation key: %w", unavailable(err))
	}
	return &Generation{client: c.client, id: id, created: created}, nil
}

// ID is the generation this process remembers.
func (g *Generation) ID() string { return g.id }

// Created reports whether this process wrote the generation: Redis had
// none (new, or emptied since a process last read it).
func (g *Generation) Created() bool { return g.created }

// Check reads the generation key again. It returns an error wrapping
// ErrDataLost if the key vanished or changed (and from then on, without
// reading), another error if Redis could not be read, nil if all is well.
func (g *Generation) Check(ctx context.Context) error {
	g.mu.Lock()
	lost := g.lost
	g.mu.Unlock()
	if lost != nil {
		return lost
	}
	id, err := g.client.Get(ctx, generationKey).Result()
	switch {
	case errors.Is(err, redis.Nil):
		lost = fmt.Errorf("%w: the generation key %s is gone (Redis restarted without persistence, was flushed, or evicted it); jobs accepted before may be gone", ErrDataLost, generationKey)
	case err != nil:
		return fmt.Errorf("redisq: read the generation key: %w", unavailable(err))
	case id != g.id:
		lost = fmt.Errorf("%w: the generation key %s changed from %s to %s (Redis lost its data and another process started on it, or this is another Redis); jobs accepted before may be gone", ErrDataLost, generationKey, g.id, id)
	default:
		return nil
	}
	g.mu.Lock()
	g.lost = lost
	g.mu.Unlock()
	return lost
}

// Watch checks every interval until ctx ends, and calls lost once, when
// the data is found lost.
func (g *Generation) Watch(ctx context.Context, every time.Duration, lost func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(ctx, every)
		err := g.Check(cctx)
		cancel()
		if errors.Is(err, ErrDataLost) {
			lost(err)
			return
		}
	}
}
