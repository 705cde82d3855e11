package redisq

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/scheduler"
)

// Counter counts what a Conn sends Redis: round trips (a command, or a
// pipeline of them) and commands.
type Counter struct{ trips, cmds atomic.Int64 }

func (c *Counter) RoundTrips() int64 { return c.trips.Load() }
func (c *Counter) Commands() int64   { return c.cmds.Load() }

// Count adds a Counter to c's client: every later call through it counts.
func Count(c *Conn) *Counter {
	n := new(Counter)
	c.client.AddHook(counterHook{n})
	return n
}

type counterHook struct{ n *Counter }

func (h counterHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h counterHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.trips.Add(1)
		h.n.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (h counterHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.trips.Add(1)
		h.n.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TaskMessage is the asynq message Push writes for a job's task.
func TaskMessage(id, circuit string, c scheduler.Class, queue string, retry int, retention time.Duration, deadline time.Time) []byte {
	return taskMessage(jobPayload(id, circuit, c), queue, taskOptions{retry: retry, retention: retention, deadline: deadline})
}

// Client is c's go-redis client: for tests that read Redis directly.
func Client(c *Conn) redis.UniversalClient { return c.client }
