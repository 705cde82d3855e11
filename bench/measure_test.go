package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		in   []time.Duration
		want Stat
	}{
		{ms(30, 10, 20), Stat{Median: 0.02, Min: 0.01, Max: 0.03, Runs: 3}},
		{ms(40, 10, 20, 30), Stat{Median: 0.025, Min: 0.01, Max: 0.04, Runs: 4}},
		{ms(7), Stat{Median: 0.007, Min: 0.007, Max: 0.007, Runs: 1}},
		{nil, Stat{}},
	} {
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]float64{0.5: 5, 0.95: 10, 0.99: 10, 0.1: 1, 0.11: 2} {
		if got := percentile(s, p); got != want {
			t.Errorf("percentile(%g) = %g, want %g", p, got, want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %g", got)
	}
}

func TestClosedLoop(t *testing.T) {
	var calls, inFlight, most atomic.Int64
	lat, wall, err := closedLoop(context.Background(), 3, 10, func(context.Context, int) error {
		calls.Add(1)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return nil
	})
	if err != nil || len(lat) != 10 || calls.Load() != 10 || wall <= 0 {
		t.Fatalf("lat %d calls %d wall %v err %v", len(lat), calls.Load(), wall, err)
	}
	if most.Load() > 3 {
		t.Fatalf("%d calls at once, want at most 3", most.Load())
	}
	for i, d := range lat {
		if d < 2*time.Millisecond {
			t.Fatalf("latency %d = %v", i, d)
		}
	}
	newRun(lat, wall) // percentiles of real latencies
}

func TestClosedLoopStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int64
	_, _, err := closedLoop(context.Background(), 2, 1000, func(_ context.Context, i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		time.Sleep(time.Millisecond) // the other loop is mid-call when the error comes
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() > 10 {
		t.Fatalf("%d calls after the error", calls.Load())
	}
}

func TestPeakMemorySeesAnAllocation(t *testing.T) {
	const size = 64 << 20
	var sink []byte
	peak, err := peakMemory(func() error {
		sink = make([]byte, size)
		for i := range sink {
			sink[i] = 1
		}
		return nil
	})
	if err != nil || peak < size {
		t.Fatalf("peak %d bytes after touching %d, err %v", peak, size, err)
	}
	_ = sink
}
