package worker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/worker"
)

// unrecorded is the scheduler, dropping stage reports.
type unrecorded struct{ *scheduler.Scheduler }

func (unrecorded) Progress(context.Context, string, int, scheduler.Stage) error { return nil }

// BenchmarkStages measures what recording a job's stages (a journal write
// each, from the pool's own goroutine) costs a proof's throughput: invoice
// proofs, one slot, with the stages recorded and dropped.
//
//	go test ./worker -run '^$' -bench Stages -benchtime 20x
func BenchmarkStages(b *testing.B) {
	p := testkeys.Prover(b)
	c, _ := circuits.Lookup("invoice-consistency/v1")
	if _, err := p.Keys(c); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		jobs func(*scheduler.Scheduler) worker.Jobs
	}{
		{"recorded", func(s *scheduler.Scheduler) worker.Jobs { return s }},
		{"dropped", func(s *scheduler.Scheduler) worker.Jobs { return unrecorded{s} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := newScheduler(b)
			pool := worker.New(tc.jobs(s), p, worker.Config{Slots: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			pool.Start()
			defer pool.Shutdown(context.Background())
			ids := make([]string, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				ids = append(ids, submit(b, s, i))
			}
			for _, id := range ids {
				if j, err := s.Wait(context.Background(), id); err != nil || j.State != scheduler.Succeeded {
					b.Fatalf("job %s: %v %v", id, j, err)
				}
			}
			b.ReportMetric(float64(len(ids))/b.Elapsed().Seconds(), "proofs/s")
		})
	}
}
