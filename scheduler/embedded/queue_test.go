package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proofmill/proofmill/scheduler"
)

func TestQueue(t *testing.T) {
	q := NewQueue()
	q.Push("a", scheduler.Batch)
	q.Push("a", scheduler.Batch) // absorbed
	q.Push("b", scheduler.Interactive)
	q.Push("c", scheduler.Batch)
	if q.Len(scheduler.Batch) != 2 || q.Len(scheduler.Interactive) != 1 {
		t.Fatalf("lengths %d/%d", q.Len(scheduler.Interactive), q.Len(scheduler.Batch))
	}
	if !q.Remove("c") || q.Remove("c") {
		t.Fatal("remove")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, want := range []string{"b", "a"} {
		if got, err := q.Pop(ctx); err != nil || got != want {
			t.Fatalf("pop: %q %v, want %q", got, err, want)
		}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := q.Pop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("pop on empty: %v", err)
	}
	// A blocked Pop wakes on Push.
	got := make(chan string)
	go func() { id, _ := q.Pop(ctx); got <- id }()
	time.Sleep(10 * time.Millisecond)
	q.Push("d", scheduler.Interactive)
	if id := <-got; id != "d" {
		t.Fatalf("woke with %q", id)
	}
}

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
