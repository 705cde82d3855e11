package embedded

import (
	"context"
	"testing"

	"github.com/proofmill/proofmill/scheduler"
)

func TestStoreCounts(t *testing.T) {
	s, err := Open(t.TempDir() + "/jobs.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i, st := range []scheduler.State{scheduler.Queued, scheduler.Queued, scheduler.Succeeded} {
		if _, _, err := s.Create(ctx, &scheduler.Job{ID: string(rune('a' + i)), State: st, Input: []byte(`{"x":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.Counts(ctx)
	if err != nil || counts[scheduler.Queued] != 2 || counts[scheduler.Succeeded] != 1 {
		t.Fatalf("counts %v, %v", counts, err)
	}
}
