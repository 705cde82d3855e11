package bench

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func seconds(d time.Duration) float64 { return d.Seconds() }

// summarize returns the median, min and max of ds.
func summarize(ds []time.Duration) Stat {
	if len(ds) == 0 {
		return Stat{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: seconds(med), Min: seconds(s[0]), Max: seconds(s[len(s)-1]), Runs: len(s)}
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// pairedRatio is the median over rounds measured in pairs of raw ÷
// service, of wall times (service proofs/s ÷ raw proofs/s) or, with cpu,
// of CPU times. Load lasting longer than a round moves both of its sides
// alike and cancels.
func pairedRatio(rounds []Round, cpu bool) float64 {
	rs := make([]float64, len(rounds))
	for i, r := range rounds {
		rs[i] = r.Raw / r.Service
		if cpu {
			rs[i] = r.RawCPU / r.ServiceCPU
		}
	}
	return median(rs)
}

// percentile of sorted latencies, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// newRun summarizes a closed loop of len(lat) proofs taking wall.
func newRun(lat []time.Duration, wall time.Duration) LoopStats {
	s := make([]float64, len(lat))
	for i, d := range lat {
		s[i] = seconds(d)
	}
	slices.Sort(s)
	return LoopStats{PerSecond: float64(len(lat)) / wall.Seconds(), P50: percentile(s, 0.50), P95: percentile(s, 0.95),
		P99: percentile(s, 0.99), Latencies: s}
}

// peakMemory measures the most memory fn's process used while fn ran: on
// Linux the resident high-water mark (VmHWM), reset before fn; elsewhere
// the Go heap, sampled every 5 ms.
func peakMemory(fn func() error) (uint64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil {
		err := fn()
		return kbField("/proc/self/status", "VmHWM"), err
	}
	var (
		peak uint64
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	err := fn()
	close(stop)
	wg.Wait()
	return peak, err
}

// kbField reads a "Name: N kB" line of a /proc file, in bytes; 0 if absent.
func kbField(path, field string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// residentBytes is the process's resident memory once the Go runtime has
// returned what it can to the system; 0 where /proc is missing.
func residentBytes() uint64 {
	debug.FreeOSMemory()
	return kbField("/proc/self/status", "VmRSS")
}

// heapInUse is the live Go heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
