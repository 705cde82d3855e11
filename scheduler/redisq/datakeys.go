package redisq

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/vault"
)

// dataKeysKey is the hash of wrapped data keys (package vault), field
// "tenant/version": on the jobs' slot, so that a replica wait covers them.
const dataKeysKey = "proofmill:{j}:datakeys"

// The Store is the vault.Ring of the processes sharing it: every server and
// worker reads the same wrapped keys (each unwraps them with its own copy
// of the master key, which Redis never sees).
var _ vault.Ring = (*Store)(nil)

func (s *Store) DataKeys(ctx context.Context) ([]vault.DataKey, error) {
	all, err := s.client.HGetAll(ctx, dataKeysKey).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: data keys: %w", unavailable(err))
	}
	keys := make([]vault.DataKey, 0, len(all))
	for field, data := range all {
		var k vault.DataKey
		if err := json.Unmarshal([]byte(data), &k); err != nil {
			return nil, fmt.Errorf("redisq: data key %s is damaged: %w", field, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// AddDataKey stores a new version, and waits for --redis-min-replicas to
// have it: a key lost in a failover would lose every input it wraps.
func (s *Store) AddDataKey(ctx context.Context, k vault.DataKey) (bool, error) {
	data, err := json.Marshal(k)
	if err != nil {
		return false, fmt.Errorf("redisq: %w", err)
	}
	added, err := s.client.HSetNX(ctx, dataKeysKey, k.Name(), data).Result()
	if err != nil {
		return false, fmt.Errorf("redisq: data key %s: %w", k.Name(), unavailable(err))
	}
	return added, s.replicated(ctx, "data key "+k.Name())
}

// replaceScript: KEYS data keys; ARGV field, data. Overwrites a field that
// exists.
var replaceScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

func (s *Store) ReplaceDataKey(ctx context.Context, k vault.DataKey) error {
	data, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("redisq: %w", err)
	}
	if err := replaceScript.Run(ctx, s.client, []string{dataKeysKey}, k.Name(), data).Err(); err != nil {
		return fmt.Errorf("redisq: data key %s: %w", k.Name(), unavailable(err))
	}
	return s.replicated(ctx, "data key "+k.Name())
}

func (s *Store) DeleteDataKey(ctx context.Context, tenant string, version int) error {
	field := tenant + "/" + strconv.Itoa(version)
	if err := s.client.HDel(ctx, dataKeysKey, field).Err(); err != nil {
		return fmt.Errorf("redisq: data key %s: %w", field, unavailable(err))
	}
	return nil
}
