package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/scheduler"
)

// order pops every ID and returns the tenants in the order served.
func order(t *testing.T, q *Queue, n int) string {
	t.Helper()
	var got []string
	for range n {
		id, ok := q.tryPop()
		if !ok {
			t.Fatalf("queue empty after %v", got)
		}
		got = append(got, id[:1])
		q.Release(context.Background(), id, scheduler.Class{}, false)
	}
	return strings.Join(got, "")
}

func push(q *Queue, tenant string, p scheduler.Priority, n int) {
	for i := range n {
		q.Push(context.Background(), fmt.Sprintf("%s%s-%d", tenant, p, i), scheduler.Class{Tenant: tenant, Priority: p})
	}
}

func TestQueueSharesBetweenTenants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		weight map[string]int
		fill   func(q *Queue)
		pops   int
		want   string
	}{
		{"a flood does not hold back another tenant", nil, func(q *Queue) {
			push(q, "a", scheduler.Interactive, 10)
			push(q, "b", scheduler.Interactive, 1)
		}, 4, "abaa"},
		{"equal weights alternate", nil, func(q *Queue) {
			push(q, "a", scheduler.Interactive, 4)
			push(q, "b", scheduler.Interactive, 4)
		}, 8, "abababab"},
		{"weights 3:1", map[string]int{"a": 3}, func(q *Queue) {
			push(q, "a", scheduler.Interactive, 9)
			push(q, "b", scheduler.Interactive, 3)
		}, 8, "abaaabaa"},
		{"interactive before another tenant's batch", nil, func(q *Queue) {
			push(q, "a", scheduler.Batch, 10)
			push(q, "b", scheduler.Interactive, 2)
		}, 3, "bba"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQueue(QueueConfig{Weight: func(tenant string) int { return tc.weight[tenant] }})
			tc.fill(q)
			if got := order(t, q, tc.pops); got != tc.want {
				t.Fatalf("served %q, want %q", got, tc.want)
			}
		})
	}
}

// A tenant idle while others work cannot bank starts: when it comes back
// it gets its share, not a burst.
func TestQueueIdleTenantBanksNothing(t *testing.T) {
	q := NewQueue(QueueConfig{})
	push(q, "a", scheduler.Interactive, 20)
	if got := order(t, q, 10); got != strings.Repeat("a", 10) {
		t.Fatalf("served %q", got)
	}
	push(q, "b", scheduler.Interactive, 5)
	if got := order(t, q, 6); got != "abababa"[:6] && got != "bababa" {
		t.Fatalf("after b came back: %q, want a and b alternating", got)
	}
}

// A popped ID handed back keeps its class, even when the caller could
// not read the job and names none.
func TestReleaseKeepsTheClass(t *testing.T) {
	q := NewQueue(QueueConfig{})
	ctx := context.Background()
	q.Push(ctx, "j", scheduler.Class{Tenant: "bank-a", Priority: scheduler.Batch})
	id, ok := q.tryPop()
	if !ok || id != "j" {
		t.Fatalf("pop %q %v", id, ok)
	}
	q.Release(ctx, id, scheduler.Class{}, true)
	if n, _ := q.Len(ctx, scheduler.Batch); n != 1 || q.lines[scheduler.Batch]["bank-a"] == nil {
		t.Fatalf("back in line as %v (batch %d)", q.lines, n)
	}
}
