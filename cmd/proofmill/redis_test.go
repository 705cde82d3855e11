package main

import (
	"strings"
	"testing"

	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// serve and worker refuse a Redis without persistence: exit 2, saying
// what to set and naming --redis-volatile.
func TestRedisWithoutPersistenceRefusedByCLI(t *testing.T) {
	redis := redistest.StartWith(t, "--appendonly", "no")
	for _, args := range [][]string{
		{"serve", "--redis", redis.Addr, "--listen", "127.0.0.1:0", "--metrics", "", "--data", t.TempDir(), "--keys", testkeys.Dir(), "--preload", "none"},
		append([]string{"worker", "--redis", redis.Addr, "--keys", testkeys.Dir(), "--preload", "none", "--workers", "1"}, proctest.ServiceKeyFlags(t)...),
	} {
		code, _, stderr := proofmill(t, args...)
		if code != 2 || !strings.Contains(stderr, "appendonly yes") || !strings.Contains(stderr, "--redis-volatile") {
			t.Errorf("%s: exit %d, %q; want 2, saying to set appendonly yes or pass --redis-volatile", args[0], code, stderr)
		}
	}
}
