package node_test

import (
	"context"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
)

// A restarting server listens before it recovers: while the jobs a
// previous process left go back in line, health is NOT_SERVING, reads are
// served and submissions are UNAVAILABLE (which clients retry); then it
// admits.
func TestServesWhileRecovering(t *testing.T) {
	data := t.TempDir()
	noWorkers := func(c *node.Config) { c.DataDir, c.Workers = data, -1 }
	first := testnode.Start(t, noWorkers)
	c, err := client.Dial(first.Addr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, time.Minute)
	var ids []string
	for i := range 3 {
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 500+i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.GetId())
	}
	c.Close()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	hold := make(chan struct{})
	cfg := testnode.Config(t)
	noWorkers(&cfg)
	node.BeforeRecovery(&cfg, func() { <-hold })
	second, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		second.Shutdown(ctx)
	})
	select {
	case <-second.Admitting():
		t.Fatal("admitting before recovery ran")
	default:
	}
	raw := dialRaw(t, second.Addr())
	if s := health(t, raw, ""); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health while recovering: %s, want NOT_SERVING", s)
	}
	c2, err := client.Dial(second.Addr(), client.Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if j, err := c2.Get(ctx, ids[0]); err != nil || j.GetState() != pb.JobState_JOB_STATE_QUEUED {
		t.Fatalf("a read while recovering: %v, %v", j, err)
	}
	_, _, err = c2.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 600)})
	if errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("a submission while recovering: %v, want UNAVAILABLE", err)
	}

	close(hold)
	select {
	case <-second.Admitting():
	case <-time.After(time.Minute):
		t.Fatal("not admitting a minute after recovery was let go")
	}
	if s := health(t, raw, ""); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after recovery: %s", s)
	}
	if _, _, err := c2.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 600)}); err != nil {
		t.Fatalf("a submission after recovery: %v", err)
	}
}
