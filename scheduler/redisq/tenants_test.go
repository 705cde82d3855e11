package redisq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
)

// Each configured tenant's jobs go to queues of their own (a tenant not
// configured shares the common ones); Len counts them all; Recover puts
// them back where they were; and a consumer serves every queue.
func TestTenantQueues(t *testing.T) {
	srv := redistest.Start(t)
	b := open(t, srv.Addr)
	b.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := scheduler.New(b.Store, b.Queue, scheduler.Config{})
	want := map[string]string{}
	for i, tenant := range []string{"bank-a", "bank-b", "stranger", ""} {
		j, _, err := s.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 300+i), Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		switch tenant {
		case "bank-a", "bank-b":
			want[j.ID] = "proofmill." + tenant + ".interactive"
		default:
			want[j.ID] = "proofmill.interactive"
		}
	}
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer inspector.Close()
	check := func(when string) {
		t.Helper()
		for id, queue := range want {
			if info, err := inspector.GetTaskInfo(queue, id); err != nil || info.Queue != queue {
				t.Fatalf("%s: job %s not in %s: %v", when, id, queue, err)
			}
		}
		if n, err := b.Queue.Len(ctx, scheduler.Interactive); err != nil || n != 4 {
			t.Fatalf("%s: Len = %d, %v; want 4", when, n, err)
		}
	}
	check("submitted")
	for id, queue := range want { // lost tasks: Recover must put each back in its own queue
		if err := inspector.DeleteTask(queue, id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Recover(ctx); err != nil || n != 4 {
		t.Fatalf("recover: %d %v", n, err)
	}
	check("recovered")
	b.Resume()
	for range 4 {
		j, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		delete(want, j.ID)
	}
	if len(want) > 0 {
		t.Fatalf("never served: %v", want)
	}
}

// A tenant's one job is not held back by another's flood: asynq draws
// between the two tenants' queues at random by weight (1 and 2 here), so
// the single job comes out within the first few; 16 bounds a failure at
// (1/3)^16.
func TestTenantQueuesShare(t *testing.T) {
	srv := redistest.Start(t)
	b := open(t, srv.Addr)
	b.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 30 {
		if err := b.Queue.Push(ctx, fmt.Sprintf("flood-%02d", i), scheduler.Class{Tenant: "bank-a"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Queue.Push(ctx, "single", scheduler.Class{Tenant: "bank-b"}); err != nil {
		t.Fatal(err)
	}
	b.Resume()
	for range 16 {
		id, err := b.Queue.Pop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.Queue.Release(ctx, id, scheduler.Class{}, false)
		if id == "single" {
			return
		}
	}
	t.Fatal("bank-b's job was not among the first 16 served")
}
