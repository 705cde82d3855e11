package redisq_test

import (
	"context"
	"testing"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler/redisq"
	"github.com/proofmill/proofmill/vault"
	"github.com/proofmill/proofmill/vault/ringtest"
)

// The Store is the ring of data keys of every process sharing Redis.
func TestDataKeyRing(t *testing.T) {
	ringtest.Run(t, func(t *testing.T) vault.Ring {
		r := redistest.Start(t)
		conn, err := redisq.Dial(context.Background(), r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return redisq.NewStore(conn, redisq.StoreConfig{})
	})
}
