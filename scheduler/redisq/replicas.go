package redisq

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
)

// replicatedKey is written before each WAIT: WAIT counts the replicas that
// have a connection's own last write, and that write follows the job's in
// the master's replication stream, so they have the job too, whichever
// pooled connection wrote it.
const replicatedKey = "proofmill:{j}:replicated"

// ErrTooFewReplicas: a write reached fewer replicas than
// StoreConfig.MinReplicas within StoreConfig.ReplicaTimeout.
var ErrTooFewReplicas = errcode.New(errcode.Unavailable, "too few Redis replicas acknowledged the job")

// replicated waits until s.minReplicas replicas have every write made
// so far to the master of the job keys' slot. It returns an error
// wrapping ErrTooFewReplicas if fewer acknowledged in time.
func (s *Store) replicated(ctx context.Context, id string) error {
	if s.minReplicas <= 0 {
		return nil
	}
	master, ok := s.client.(*redis.Client) // one server, or Sentinel's master
	if cluster, isCluster := s.client.(*redis.ClusterClient); isCluster {
		var err error
		if master, err = cluster.MasterForKey(ctx, replicatedKey); err != nil {
			return unavailable(err)
		}
		ok = true
	}
	if !ok {
		return fmt.Errorf("redisq: --redis-min-replicas: unsupported client %T", s.client)
	}
	conn := master.Conn() // one connection for the write and its WAIT
	defer conn.Close()
	if err := conn.Set(ctx, replicatedKey, id, 0).Err(); err != nil {
		return unavailable(err)
	}
	acked := conn.Wait(ctx, s.minReplicas, s.replicaTimeout)
	if err := acked.Err(); err != nil {
		return unavailable(err)
	}
	if n := acked.Val(); n < int64(s.minReplicas) {
		return fmt.Errorf("%w: %d of the %d required (--redis-min-replicas) within %s; retry: the job counts as not accepted until enough replicas have it",
			ErrTooFewReplicas, n, s.minReplicas, s.replicaTimeout)
	}
	return nil
}

// uncreateScript: KEYS jobKeys; ARGV version, id. Deletes a job Create
// wrote if it is still at that version, so a retry creates (and waits
// for replicas) again. Returns 1 when deleted.
var uncreateScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[2])
redis.call('SREM', KEYS[5], ARGV[2])
redis.call('ZREM', KEYS[6], ARGV[2])
return 1`)

// uncreate takes back a job whose replication fell short; the returned
// error is werr, with a note if the job could not be taken back.
func (s *Store) uncreate(ctx context.Context, job *scheduler.Job, werr error) error {
	ctx = context.WithoutCancel(ctx)
	if err := uncreateScript.Run(ctx, s.client, jobKeys(job), job.Version, job.ID).Err(); err != nil {
		return fmt.Errorf("%w (and taking the job back failed: %v; a retry returns it)", werr, err)
	}
	return werr
}
