package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/redistest"
)

// benchInput numbers statements across every run of a benchmark, so no
// submission is absorbed as a duplicate of an earlier one.
var benchInput atomic.Int64

// proveAll submits b.N invoices at once through c and waits for them all.
func proveAll(b *testing.B, c *client.Client) {
	ctx := context.Background()
	ids := make([]string, b.N)
	for i := range ids {
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(b, int(benchInput.Add(1)))})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = j.GetId()
	}
	for _, id := range ids {
		if j, err := c.Wait(ctx, id); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			b.Fatalf("%v %v", j, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
}

// BenchmarkQueueThroughput proves invoices (7.6k constraints, where queue
// overhead shows most) through the embedded queue and through Redis with
// one and two worker processes, against raw groth16.Prove in the same run.
//
//	go test ./cmd/proofmill -run '^$' -bench QueueThroughput -benchtime 60x
func BenchmarkQueueThroughput(b *testing.B) {
	const id = "invoice-consistency/v1"
	b.Run("raw-gnark", rawProve(b, id, invoiceInput(b, 0)))
	for _, slots := range []int{1, 2} {
		b.Run(fmt.Sprintf("embedded-slots-%d", slots), func(b *testing.B) {
			_, cl := startTestNode(b, func(cfg *serveConfig) { cfg.Workers = slots; cfg.Preload = id })
			b.ResetTimer()
			proveAll(b, cl)
		})
	}
	for _, shape := range []struct{ processes, concurrency int }{{1, 1}, {1, 2}, {2, 1}} {
		b.Run(fmt.Sprintf("redis-processes-%d-concurrency-%d", shape.processes, shape.concurrency), func(b *testing.B) {
			redis := redistest.Start(b)
			cl := startRedisServe(b, redis.Addr)
			for i := range shape.processes {
				startWorker(b, fmt.Sprint("worker ", i), redis.Addr, "--concurrency", fmt.Sprint(shape.concurrency))
			}
			b.ResetTimer()
			proveAll(b, cl)
		})
	}
}

// BenchmarkStartLatency is the time from a job's acceptance to its start
// on an idle worker (the job's own timestamps), in process and through
// Redis, where an idle worker polls (worker --poll).
//
//	go test ./cmd/proofmill -run '^$' -bench StartLatency -benchtime 100x
func BenchmarkStartLatency(b *testing.B) {
	measure := func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		var lat []time.Duration
		for b.Loop() {
			j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(b, int(benchInput.Add(1)))})
			if err != nil {
				b.Fatal(err)
			}
			if j, err = c.Wait(ctx, j.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				b.Fatalf("%v %v", j, err)
			}
			lat = append(lat, j.GetStarted().AsTime().Sub(j.GetSubmitted().AsTime()))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("embedded", func(b *testing.B) {
		_, cl := startTestNode(b, func(cfg *serveConfig) { cfg.Preload = "invoice-consistency/v1" })
		measure(b, cl)
	})
	for _, poll := range []string{"100ms", "50ms", "20ms"} {
		b.Run("redis-poll-"+poll, func(b *testing.B) {
			redis := redistest.Start(b)
			cl := startRedisServe(b, redis.Addr)
			startWorker(b, "worker", redis.Addr, "--poll", poll)
			measure(b, cl)
		})
	}
}
