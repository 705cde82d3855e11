package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/prover"
)

// serviceOptions say how to start the embedded server.
type serviceOptions struct {
	Preload   string // a circuit whose keys to load before serving; empty: none
	NoWorkers bool   // queue jobs, prove none
	MaxQueued int    // 0: the server's default
}

// stages splits the service's latencies by the jobs' timestamps.
func stages(jobs []*pb.Job, lat []time.Duration) ServiceStages {
	var queued, running, around []time.Duration
	for i, j := range jobs {
		sub, start, end := j.GetSubmitted().AsTime(), j.GetStarted().AsTime(), j.GetFinished().AsTime()
		queued = append(queued, start.Sub(sub))
		running = append(running, end.Sub(start))
		around = append(around, lat[i]-end.Sub(sub))
	}
	return ServiceStages{Queued: summarize(queued).Median, Running: summarize(running).Median, Around: summarize(around).Median}
}

// startService starts the embedded server `proofmill serve` runs (a
// node), on a loopback port with a journal in a temporary folder and the
// harness's key store, logging errors only, and connects to it; stop
// closes both.
func (h *harness) startService(ctx context.Context, opt serviceOptions) (*node.Node, *client.Client, func(), error) {
	dir, err := os.MkdirTemp("", "proofmill-bench-data-")
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := node.Config{Listen: "127.0.0.1:0", DataDir: dir, KeysDir: h.cfg.KeysDir, DevSetup: true, Preload: opt.Preload,
		MaxQueued: opt.MaxQueued, Retention: time.Hour, Version: h.cfg.Version, Logger: h.serviceLog}
	if cfg.Preload == "" {
		cfg.Preload = "none"
	}
	if opt.NoWorkers {
		cfg.Workers = -1
	}
	n, err := node.New(cfg)
	if err == nil {
		err = n.Start(ctx)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	stopNode := func() {
		if err := n.Shutdown(context.WithoutCancel(ctx)); err != nil {
			h.cfg.Logger.Warn("stop service", "err", err)
		}
		os.RemoveAll(dir)
	}
	cl, err := client.Dial(n.Addr(), client.Options{})
	if err != nil {
		stopNode()
		return nil, nil, nil, err
	}
	return n, cl, func() { cl.Close(); stopNode() }, nil
}

// closedLoop runs total calls of one on conc goroutines, each starting its
// next call when its last one ends, and returns every call's latency and
// the wall time. The first error stops the loop.
func closedLoop(ctx context.Context, conc, total int, one func(ctx context.Context, i int) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := one(ctx, i); err != nil {
					cancel(err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	return lat, wall, nil
}

// serviceOverhead proves the service circuit through the server and raw,
// level by level, raw first at each level.
func (h *harness) serviceOverhead(ctx context.Context) error {
	id := h.profile.ServiceCircuit
	fail := func(step string, err error) error { return fmt.Errorf("bench: service %s: %s: %w", id, step, err) }
	c, err := circuits.Lookup(id)
	if err != nil {
		return fail("circuit", err)
	}
	in, err := examples.Read(c.Example)
	if err != nil {
		return fail("input", err)
	}
	a, err := c.Assign(in)
	if err != nil {
		return fail("input", err)
	}
	full, err := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
	if err != nil {
		return fail("witness", err)
	}
	// The raw prover uses the keys the service will load: same key store.
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: h.cfg.KeysDir}, DevSetup: true, Logger: h.cfg.Logger})
	if err != nil {
		return fail("keys", err)
	}
	keys, err := p.Keys(c)
	if err != nil {
		return fail("keys", err)
	}

	svc, cl, stop, err := h.startService(ctx, serviceOptions{Preload: id})
	if err != nil {
		return fail("start service", err)
	}
	defer stop()
	nonce := time.Now().UnixNano()
	prove := func(ctx context.Context, key string) (*pb.Job, error) {
		j, err := cl.Prove(ctx, &pb.SubmitProofRequest{Circuit: id, InputJson: string(in), IdempotencyKey: key})
		if err != nil {
			return nil, err
		}
		if j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			return nil, fmt.Errorf("job %s ended %s: %s", j.GetId(), j.GetState(), j.GetError())
		}
		return j, nil
	}
	if _, err := prove(ctx, fmt.Sprintf("bench-%d-warm-up", nonce)); err != nil {
		return fail("warm-up", err)
	}

	res := &ServiceReport{Circuit: id, Constraints: keys.CCS.GetNbConstraints(), Workers: svc.Workers()}
	for _, conc := range h.profile.concurrency() {
		h.logf("service %s at concurrency %d", id, conc)
		total := max(h.profile.ProofsPerLevel, conc)
		lvl := ServiceLevel{Concurrency: conc, Proofs: total}
		lat, wall, err := closedLoop(ctx, conc, total, func(context.Context, int) error {
			_, err := groth16.Prove(keys.CCS, keys.PK, full)
			return err
		})
		if err != nil {
			return fail("raw prove", err)
		}
		lvl.Raw = newRun(lat, wall)
		jobs := make([]*pb.Job, total)
		lat, wall, err = closedLoop(ctx, conc, total, func(ctx context.Context, i int) (err error) {
			jobs[i], err = prove(ctx, fmt.Sprintf("bench-%d-%d-%d", nonce, conc, i))
			return err
		})
		if err != nil {
			return fail("service prove", err)
		}
		lvl.Service = newRun(lat, wall)
		lvl.Stages = stages(jobs, lat)
		lvl.Ratio = lvl.Service.PerSecond / lvl.Raw.PerSecond
		res.Levels = append(res.Levels, lvl)
	}
	h.report.Service = res
	return nil
}
