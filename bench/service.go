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
	// GPUs, when set, proves on these devices ("cuda:0", "icicle-cpu:0"),
	// in ProcsPerGPU supervised device processes each (0: 1) that run
	// this binary (Config.Binary) as their `worker --device ID --stdio`.
	GPUs        string
	ProcsPerGPU int
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
		MaxQueued: opt.MaxQueued, Retention: time.Hour, Version: h.cfg.Version, Logger: h.serviceLog,
		// The load section watches 1,000 jobs over its one connection, as
		// a fleet of clients would over many: past the default of 100
		// streams a connection, gRPC would queue the rest.
		Limits: node.Limits{MaxStreams: 4096},
		GPUs:   opt.GPUs, ProcsPerGPU: opt.ProcsPerGPU}
	if opt.GPUs != "" {
		cfg.Executable = h.cfg.Binary
	}
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
// level by level, interleaved (see serviceLevel).
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
	if c.KeysOnlyWhenAsked() { // named as the service circuit: asked for
		if _, _, err := prover.SetupKeys(p.Store(), c, false, h.cfg.Logger); err != nil {
			return fail("keys", err)
		}
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
		lvl, err := h.serviceLevel(ctx, conc, func(ctx context.Context) error {
			_, err := groth16.Prove(keys.CCS, keys.PK, full)
			return err
		}, func(ctx context.Context, i int) (*pb.Job, error) {
			return prove(ctx, fmt.Sprintf("bench-%d-%d-%d", nonce, conc, i))
		})
		if err != nil {
			return fail("prove", err)
		}
		res.Levels = append(res.Levels, lvl)
	}
	h.report.Service = res
	return nil
}

// minPairs is the fewest rounds a level has: its ratio is their median.
const minPairs = 5

// serviceLevel measures one concurrency level in rounds, raw and service
// interleaved (raw first in even rounds, service first in odd ones): each
// round proves conc at once raw, and conc at once through the service, so
// whatever else loads the machine in that moment loads both sides alike.
// The level's ratios are pairedRatio's of the rounds.
func (h *harness) serviceLevel(ctx context.Context, conc int, raw func(context.Context) error,
	service func(context.Context, int) (*pb.Job, error)) (ServiceLevel, error) {
	least := minPairs
	if h.profile.MinRounds > 0 {
		least = h.profile.MinRounds
	}
	rounds := max((h.profile.ProofsPerLevel+conc-1)/conc, least)
	lvl := ServiceLevel{Concurrency: conc, Proofs: rounds * conc}
	jobs := make([]*pb.Job, 0, lvl.Proofs)
	var rawLat, svcLat []time.Duration
	var rawWall, svcWall time.Duration
	for r := range rounds {
		var round Round
		runRaw := func() error {
			cpu := processCPU()
			lat, wall, err := closedLoop(ctx, conc, conc, func(ctx context.Context, _ int) error { return raw(ctx) })
			round.Raw, round.RawCPU = wall.Seconds(), (processCPU() - cpu).Seconds()
			rawLat, rawWall = append(rawLat, lat...), rawWall+wall
			return err
		}
		runService := func() error {
			got := make([]*pb.Job, conc)
			cpu := processCPU()
			lat, wall, err := closedLoop(ctx, conc, conc, func(ctx context.Context, i int) (err error) {
				start, cpu := time.Now(), processCPU()
				if got[i], err = service(ctx, r*conc+i); err == nil && h.cfg.plant != nil {
					h.cfg.plant(time.Since(start), (processCPU()-cpu)/time.Duration(conc))
				}
				return err
			})
			round.Service, round.ServiceCPU = wall.Seconds(), (processCPU() - cpu).Seconds()
			jobs, svcLat, svcWall = append(jobs, got...), append(svcLat, lat...), svcWall+wall
			return err
		}
		first, second := runRaw, runService
		if r%2 == 1 {
			first, second = runService, runRaw
		}
		if err := first(); err != nil {
			return lvl, err
		}
		if err := second(); err != nil {
			return lvl, err
		}
		lvl.Rounds = append(lvl.Rounds, round)
	}
	lvl.Raw, lvl.Service = newRun(rawLat, rawWall), newRun(svcLat, svcWall)
	lvl.Stages = stages(jobs, svcLat)
	lvl.Ratio, lvl.CPURatio = pairedRatio(lvl.Rounds, false), pairedRatio(lvl.Rounds, true)
	return lvl, nil
}
