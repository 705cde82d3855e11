package embedded_test

import (
	"path/filepath"
	"testing"

	"github.com/proofmill/proofmill/scheduler/conformance"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		return open(t, filepath.Join(t.TempDir(), "jobs.db"))
	})
}

func open(t *testing.T, path string) conformance.Backend {
	store, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return conformance.Backend{
		Store: store, Queue: embedded.NewQueue(embedded.QueueConfig{}), ExactPriority: true,
		Restart: func(t *testing.T) conformance.Backend {
			store.Close() // the process dies: the in-memory queue is gone
			return open(t, path)
		},
	}
}
