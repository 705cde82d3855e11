package redisq

import (
	"context"
	"fmt"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Conn is one connection pool to Redis, shared by a process's Store, Queue
// and batch records.
type Conn struct {
	opt    asynq.RedisConnOpt
	client redis.UniversalClient
}

// Dial parses a Redis address and connects. addr is host:port, or a URI:
// redis://[:password@]host:port[/db], rediss:// for TLS,
// redis-socket://[:password@]/path/to/socket[?db=N], or
// redis-sentinel://[:password@]host1:port[,host2:port]?master=NAME.
// Several comma-separated host:port addresses (no scheme) name a Redis
// Cluster.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	opt, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	client, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("redisq: dial %s: unsupported connection option", addr)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redisq: dial %s: %w", addr, err)
	}
	return &Conn{opt: opt, client: client}, nil
}

// ParseAddr turns an address as Dial takes it into asynq's options.
func ParseAddr(addr string) (asynq.RedisConnOpt, error) {
	switch {
	case addr == "":
		return nil, fmt.Errorf("redisq: empty Redis address")
	case strings.Contains(addr, "://"):
		opt, err := asynq.ParseRedisURI(addr)
		if err != nil {
			return nil, fmt.Errorf("redisq: %w", err)
		}
		return opt, nil
	case strings.Contains(addr, ","):
		return asynq.RedisClusterClientOpt{Addrs: strings.Split(addr, ",")}, nil
	}
	return asynq.RedisClientOpt{Addr: addr}, nil
}

// Close closes the connection pool; close the Store, Queue and records
// made from it first.
func (c *Conn) Close() error { return c.client.Close() }

// FlushAll empties the Redis database: for tests.
func FlushAll(ctx context.Context, c *Conn) error { return c.client.FlushAll(ctx).Err() }

// Info returns a section of Redis's INFO: for tests and diagnostics.
func Info(ctx context.Context, c *Conn, section string) (string, error) {
	return c.client.Info(ctx, section).Result()
}

// ClusterInfo returns CLUSTER INFO: for tests and diagnostics.
func ClusterInfo(ctx context.Context, c *Conn) (string, error) {
	return c.client.ClusterInfo(ctx).Result()
}
