package node_test

import (
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
	second := testnode.Start(t, func(c *node.Config) { noWorkers(c); node.BeforeRecovery(c, func() { <-hold }) })
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
	for i := 0; health(t, raw, "") != healthpb.HealthCheckResponse_SERVING; i++ {
		if i == 500 {
			t.Fatal("health never SERVING after recovery")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := c2.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 600)}); err != nil {
		t.Fatalf("a submission after recovery: %v", err)
	}
}
