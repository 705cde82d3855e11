package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/examples"
)

// loadCircuit is the cheapest circuit to check on submission.
const loadCircuit = "invoice-consistency/v1"

// submitters is how many clients submit at once in the load test.
const submitters = 8

var errSeen = errors.New("terminal event seen")

// load queues QueuedJobs jobs on a server with no workers, then watches
// WatchStreams of them and cancels those.
func (h *harness) load(ctx context.Context) error {
	fail := func(step string, err error) error { return fmt.Errorf("bench: load: %s: %w", step, err) }
	p := h.profile
	c, err := circuits.Lookup(loadCircuit)
	if err != nil {
		return fail("circuit", err)
	}
	in, err := examples.Read(c.Example)
	if err != nil {
		return fail("input", err)
	}
	_, cl, stop, err := h.startService(ctx, serviceOptions{NoWorkers: true, MaxQueued: p.QueuedJobs + submitters})
	if err != nil {
		return fail("start service", err)
	}
	defer stop()

	res := &LoadReport{Jobs: p.QueuedJobs, Streams: min(p.WatchStreams, p.QueuedJobs), ClientInProcess: true}
	h.logf("load: submitting %d jobs", p.QueuedJobs)
	ids := make([]string, p.QueuedJobs)
	nonce := time.Now().UnixNano()
	heap0, rss0 := heapInUse(), residentBytes()
	lat, wall, err := closedLoop(ctx, submitters, p.QueuedJobs, func(ctx context.Context, i int) error {
		j, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: loadCircuit, InputJson: string(in),
			IdempotencyKey: fmt.Sprintf("load-%d-%d", nonce, i)})
		if err == nil {
			ids[i] = j.GetId()
		}
		return err
	})
	if err != nil {
		return fail("submit", err)
	}
	run := newRun(lat, wall)
	res.SubmitPerSecond, res.SubmitP50, res.SubmitP99 = run.PerSecond, run.P50, run.P99
	res.HeapQueuedBytes = heapInUse() - heap0
	res.RSSQueuedBytes = int64(residentBytes()) - int64(rss0)

	h.logf("load: %d WatchJob streams", res.Streams)
	heap1 := heapInUse()
	opened := make(chan struct{}, res.Streams)
	var wg sync.WaitGroup
	errs := make(chan error, res.Streams)
	wctx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	t := time.Now()
	for _, id := range ids[:res.Streams] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			err := cl.Watch(wctx, id, func(j *pb.Job) error {
				if first {
					first = false
					opened <- struct{}{}
				}
				if client.Terminal(j.GetState()) {
					return errSeen
				}
				return nil
			})
			if !errors.Is(err, errSeen) {
				errs <- fmt.Errorf("watch %s: %w", id, err)
			}
		}()
	}
	for range res.Streams {
		select {
		case <-opened:
		case err := <-errs:
			return fail("watch", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	res.StreamsOpen = seconds(time.Since(t))
	res.HeapStreamsBytes = heapInUse() - heap1

	t = time.Now()
	if _, _, err := closedLoop(ctx, submitters, res.Streams, func(ctx context.Context, i int) error {
		_, err := cl.Cancel(ctx, ids[i])
		return err
	}); err != nil {
		return fail("cancel", err)
	}
	watched := make(chan struct{})
	go func() { wg.Wait(); close(watched) }()
	select {
	case <-watched:
	case <-time.After(time.Minute):
		stopWatching()
		<-watched
		return fail("watch", errors.New("streams still open a minute after their jobs were cancelled"))
	}
	res.FanOut = seconds(time.Since(t))
	close(errs)
	for err := range errs {
		return fail("watch", err)
	}
	h.report.Load = res
	return nil
}
