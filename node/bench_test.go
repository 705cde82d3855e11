package node_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
)

// BenchmarkServiceVsRaw compares end-to-end throughput through gRPC (submit,
// queue, prove, verify, store, wait) with raw groth16.Prove on the same
// circuit (abs-pool-64, 90k constraints) and witness shape, in one run.
//
//	go test ./node -run '^$' -bench ServiceVsRaw -benchtime 10x
func BenchmarkServiceVsRaw(b *testing.B) {
	const id = "abs-pool-64/v1"
	b.Run("raw-gnark", rawProve(b, id, testinput.Pool(b, 0)))
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("service-grpc-workers-%d", workers), func(b *testing.B) {
			_, cl := startNode(b, func(cfg *node.Config) { cfg.Workers = workers; cfg.Preload = id })
			b.ResetTimer()
			proveAll(b, cl, id, func(i int) string { return testinput.Pool(b, i) })
		})
	}
}

// rawProve returns a benchmark of raw groth16.Prove on the circuit's keys
// and input: the yardstick proofmill is compared with, in the same run.
func rawProve(b *testing.B, id, in string) func(*testing.B) {
	c, _ := circuits.Lookup(id)
	k, err := testkeys.Prover(b).Keys(c)
	if err != nil {
		b.Fatal(err)
	}
	a, err := c.Assign([]byte(in))
	if err != nil {
		b.Fatal(err)
	}
	full, _ := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
	return func(b *testing.B) {
		for b.Loop() {
			if _, err := groth16.Prove(k.CCS, k.PK, full); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
	}
}

// BenchmarkSubmitLatency measures SubmitProof latency (admission, native
// checks, journal fsync) with 1,000 jobs already queued.
func BenchmarkSubmitLatency(b *testing.B) {
	_, cl := startNode(b, func(cfg *node.Config) { cfg.Workers = -1; cfg.MaxQueued = 1 << 20 })
	ctx := context.Background()
	for i := range 1000 {
		if _, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(b, i)}); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	i := 1000
	for b.Loop() {
		i++
		in := testinput.Invoice(b, i)
		start := time.Now()
		if _, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: in}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkQueuedMemory measures the heap with 10,000 jobs queued.
//
//	go test ./node -run '^$' -bench QueuedMemory -benchtime 1x
func BenchmarkQueuedMemory(b *testing.B) {
	for b.Loop() {
		var data string
		_, cl := startNode(b, func(cfg *node.Config) { cfg.Workers = -1; cfg.MaxQueued = 1 << 20; data = cfg.DataDir })
		ctx := context.Background()
		rssBefore := rssMiB()
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range 10_000 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(b, i)}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(rssMiB()-rssBefore, "rss-MiB")
		if st, err := os.Stat(filepath.Join(data, "jobs.db")); err == nil {
			b.ReportMetric(float64(st.Size())/(1<<20), "journal-MiB")
		}
	}
}

// rssMiB is this process's resident memory (Linux), for the memory benchmark.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}

// benchInput numbers statements across every run of a benchmark, so no
// submission is absorbed as a duplicate of an earlier one.
var benchInput atomic.Int64

// proveAll submits b.N statements of circuit at once through c (a full
// pipeline: every job of the run in flight) and waits for them all.
func proveAll(b *testing.B, c *client.Client, circuit string, input func(i int) string) {
	submitAndWait(b, c, circuit, b.N, input)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
}

// submitAndWait submits n jobs, then waits for each to succeed.
func submitAndWait(b *testing.B, c *client.Client, circuit string, n int, input func(i int) string) {
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: circuit, InputJson: input(i)})
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
}

// nextInvoice is a distinct invoice across every run of a benchmark.
func nextInvoice(b *testing.B) func(int) string {
	return func(int) string { return testinput.Invoice(b, int(benchInput.Add(1))) }
}

// BenchmarkQueueThroughput proves invoices (7.6k constraints, where queue
// overhead shows most) through the embedded queue and through Redis with
// one and two worker processes, against raw groth16.Prove in the same run.
//
//	go test ./node -run '^$' -bench QueueThroughput -benchtime 60x
func BenchmarkQueueThroughput(b *testing.B) {
	const id = "invoice-consistency/v1"
	b.Run("raw-gnark", rawProve(b, id, testinput.Invoice(b, 0)))
	for _, slots := range []int{1, 2} {
		b.Run(fmt.Sprintf("embedded-slots-%d", slots), func(b *testing.B) {
			_, cl := startNode(b, func(cfg *node.Config) { cfg.Workers = slots; cfg.Preload = id })
			b.ResetTimer()
			proveAll(b, cl, "invoice-consistency/v1", nextInvoice(b))
		})
	}
	for _, shape := range []struct{ processes, concurrency int }{{1, 1}, {1, 2}, {2, 1}} {
		b.Run(fmt.Sprintf("redis-processes-%d-concurrency-%d", shape.processes, shape.concurrency), func(b *testing.B) {
			redis := redistest.Start(b)
			cl := startRedisServe(b, redis.Addr)
			for i := range shape.processes {
				startWorker(b, fmt.Sprint("worker ", i), redis.Addr, "--workers", fmt.Sprint(shape.concurrency))
			}
			b.ResetTimer()
			proveAll(b, cl, "invoice-consistency/v1", nextInvoice(b))
		})
	}
}

// BenchmarkStartLatency is the time from a job's acceptance to its start
// on an idle worker (the job's own timestamps), in process and through
// Redis, where an idle worker polls (worker --poll).
//
//	go test ./node -run '^$' -bench StartLatency -benchtime 100x
func BenchmarkStartLatency(b *testing.B) {
	measure := func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		var lat []time.Duration
		for b.Loop() {
			j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(b, int(benchInput.Add(1)))})
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
		_, cl := startNode(b, func(cfg *node.Config) { cfg.Preload = "invoice-consistency/v1" })
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

// BenchmarkEncryptionAtRest compares invoice proofs/s through a server
// that encrypts inputs at rest with one that keeps them in the clear, in
// alternating rounds of the same run, so that a busy machine slows both
// alike. One iteration is a round of 8 jobs on each.
//
//	go test ./node -run '^$' -bench EncryptionAtRest -benchtime 6x
func BenchmarkEncryptionAtRest(b *testing.B) {
	const id, perRound = "invoice-consistency/v1", 8
	_, plain := startNode(b, func(cfg *node.Config) { cfg.Preload = id; node.PlainInputsAtRest(cfg) })
	_, encrypted := startNode(b, func(cfg *node.Config) { cfg.Preload = id })
	next := nextInvoice(b)
	round := func(c *client.Client) time.Duration {
		start := time.Now()
		submitAndWait(b, c, id, perRound, next)
		return time.Since(start)
	}
	round(plain) // warm both: keys, connections
	round(encrypted)
	var inClear, atRest time.Duration
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 { // alternate which goes first
			inClear += round(plain)
			atRest += round(encrypted)
		} else {
			atRest += round(encrypted)
			inClear += round(plain)
		}
	}
	jobs := float64(b.N * perRound)
	b.ReportMetric(jobs/inClear.Seconds(), "clear-proofs/s")
	b.ReportMetric(jobs/atRest.Seconds(), "encrypted-proofs/s")
	b.ReportMetric(inClear.Seconds()/atRest.Seconds(), "encrypted/clear")
}
