package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/proofmill/proofmill/errcode"
)

// The gate is on CPU time: a level's CPURatio (raw CPU time ÷ service CPU
// time, the median of interleaved rounds, see serviceLevel) must be at
// least minCPURatio. The service's own work costs a few percent beyond
// proving; 20 % more work in the service path measures about 0.83. Wall
// time on a shared machine swings by more than that from round to round,
// so the throughput ratio (Ratio) is only held to [minSaneRatio,
// maxSaneRatio]: outside, the measurement or the service is broken.
const (
	minCPURatio  = 0.9
	minSaneRatio = 0.5
	maxSaneRatio = 1.5
)

// Check lists what is missing, implausible or too slow in a report: the
// problems of CheckComplete and of CheckSpeeds.
func Check(r *Report) []string { return append(CheckComplete(r), CheckSpeeds(r)...) }

// CheckSpeeds is the performance gate, on timings only: each service/raw
// ratio within [minRatio, maxSaneRatio], and the largest synthetic size
// and primitive size slower than the smallest. A busy machine moves both
// sides of a ratio alike, so it holds there too; the tests, which must
// not assert timings, use CheckComplete alone.
func CheckSpeeds(r *Report) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := r.Profile
	if p.SyntheticMaxLog > p.SyntheticMinLog {
		var first, last *SweepPoint
		for i, s := range r.Sweep {
			if !s.Synthetic || len(s.Prove) == 0 {
				continue
			}
			if s.Constraints == 1<<p.SyntheticMinLog {
				first = &r.Sweep[i]
			}
			if last == nil || s.Constraints > last.Constraints {
				last = &r.Sweep[i]
			}
		}
		if first != nil && last != first && last.Prove[0].Time.Median <= first.Prove[0].Time.Median {
			bad("sweep: %s proved no slower than %s", last.Circuit, first.Circuit)
		}
	}
	if r.Service != nil {
		for _, l := range r.Service.Levels {
			name := fmt.Sprintf("service at concurrency %d", l.Concurrency)
			if l.CPURatio < minCPURatio {
				bad("%s: raw/service CPU time %.2f below %.2f (rounds: %s): the service path does more work beyond proving than it should",
					name, l.CPURatio, minCPURatio, ratios(l.Rounds, true))
			}
			if l.Ratio < minSaneRatio || l.Ratio > maxSaneRatio {
				bad("%s: service/raw throughput %.2f outside [%.1f, %.1f] (rounds: %s)", name, l.Ratio, minSaneRatio, maxSaneRatio, ratios(l.Rounds, false))
			}
		}
	}
	type series struct{ first, last float64 }
	prims := map[[3]string]*series{}
	var keys [][3]string
	for _, op := range []struct {
		name         string
		minLog, maxL int
	}{{"msm-g1", p.MSMMinLog, p.MSMMaxLog}, {"ntt", p.NTTMinLog, p.NTTMaxLog}} {
		if op.maxL <= op.minLog {
			continue
		}
		for _, x := range r.Primitives {
			if x.Op != op.name || (x.LogN != op.minLog && x.LogN != op.maxL) {
				continue
			}
			k := [3]string{x.Op, x.Device, x.Inputs}
			if prims[k] == nil {
				prims[k] = &series{}
				keys = append(keys, k)
			}
			if x.LogN == op.minLog {
				prims[k].first = x.Time.Median
			} else {
				prims[k].last = x.Time.Median
			}
		}
	}
	for _, k := range keys {
		if s := prims[k]; s.first > 0 && s.last > 0 && s.last <= s.first {
			bad("primitives: %s on %s (%s): the largest size is no slower than the smallest", k[0], k[1], k[2])
		}
	}
	return problems
}

// ratios are the rounds' ratios (see pairedRatio), for a message.
func ratios(rounds []Round, cpu bool) string {
	var b strings.Builder
	for i, r := range rounds {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.2f", pairedRatio([]Round{r}, cpu))
	}
	return b.String()
}

// CheckComplete lists what is missing or inconsistent in a report, with no
// judgement of speed: every section its profile asks for must be there,
// complete, with ordered statistics, and each service ratio the median of
// its rounds.
func CheckComplete(r *Report) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := r.Profile
	m := r.Machine
	if m.Cores <= 0 || m.Go == "" || m.Gnark == "" || m.GnarkCrypto == "" {
		bad("machine: cores, Go, gnark or gnark-crypto version missing")
	}
	for _, f := range r.Failures {
		bad("%s", f)
	}
	devices := []string{"cpu"}
	for _, g := range m.GPUs {
		devices = append(devices, g.ID)
	}

	// Sweep: the profile's circuits, and the synthetic sizes from the smallest.
	points := map[string]SweepPoint{}
	for _, s := range r.Sweep {
		points[s.Circuit] = s
		if s.Constraints <= 0 || s.Compile <= 0 || s.Setup <= 0 || s.KeyLoad <= 0 || s.KeyBytes <= 0 || s.SetupPeak == 0 {
			bad("sweep %s: a figure is missing", s.Circuit)
		}
		problems = append(problems, checkStat("sweep "+s.Circuit+" solve", s.Solve, p.ProveRuns)...)
		for _, d := range devices {
			i := slices.IndexFunc(s.Prove, func(pr Prove) bool { return pr.Device == d })
			if i < 0 {
				bad("sweep %s: no proofs on %s", s.Circuit, d)
				continue
			}
			problems = append(problems, checkStat("sweep "+s.Circuit+" prove on "+d, s.Prove[i].Time, p.ProveRuns)...)
			if s.Prove[i].Peak == 0 {
				bad("sweep %s: no peak memory on %s", s.Circuit, d)
			}
		}
	}
	for _, id := range p.Circuits {
		if _, ok := points[id]; !ok && !slices.Contains(r.LeftOut, id) && !skipped(r, "sweep") {
			bad("sweep: %s missing", id)
		}
	}
	if p.SyntheticMaxLog > 0 && !skipped(r, "sweep") {
		first, ok := points[syntheticID(p.SyntheticMinLog)]
		if !ok {
			bad("sweep: %s missing", syntheticID(p.SyntheticMinLog))
		}
		last := first
		for logN := p.SyntheticMinLog; logN <= p.SyntheticMaxLog; logN++ {
			s, ok := points[syntheticID(logN)]
			if !ok {
				break
			}
			if s.Constraints != 1<<logN {
				bad("sweep %s: %d constraints", s.Circuit, s.Constraints)
			}
			last = s
		}
		if ok && last.Circuit == first.Circuit && p.SyntheticMaxLog > p.SyntheticMinLog && !slices.Contains(r.LeftOut, syntheticID(p.SyntheticMinLog+1)) {
			bad("sweep: only one synthetic size measured")
		}
	}

	if p.ProofsPerLevel > 0 && !skipped(r, "service") {
		switch s := r.Service; {
		case s == nil:
			bad("service: missing")
		default:
			var levels []int
			for _, l := range s.Levels {
				levels = append(levels, l.Concurrency)
				name := fmt.Sprintf("service at concurrency %d", l.Concurrency)
				problems = append(problems, checkRun(name+" raw", l.Raw, l.Proofs)...)
				problems = append(problems, checkRun(name+" service", l.Service, l.Proofs)...)
				if st := l.Stages; st.Running <= 0 || st.Queued < 0 || st.Around < 0 {
					bad("%s: stages %+v missing or negative", name, st)
				}
				switch {
				case len(l.Rounds) < minPairs || len(l.Rounds)*l.Concurrency != l.Proofs:
					bad("%s: %d rounds for %d proofs, want at least %d, of %d proofs each", name, len(l.Rounds), l.Proofs, minPairs, l.Concurrency)
				case slices.ContainsFunc(l.Rounds, func(r Round) bool { return !(r.Raw > 0 && r.Service > 0 && r.RawCPU > 0 && r.ServiceCPU > 0) }):
					bad("%s: a round's wall or CPU time is missing", name)
				case l.Ratio != pairedRatio(l.Rounds, false) || l.CPURatio != pairedRatio(l.Rounds, true):
					bad("%s: ratios %.2f and %.2f (CPU) are not its rounds'", name, l.Ratio, l.CPURatio)
				}
			}
			if want := p.concurrency(); !slices.Equal(levels, want) {
				bad("service: concurrency levels %v, want %v", levels, want)
			}
		}
	}

	for _, op := range []struct {
		name         string
		minLog, maxL int
	}{{"msm-g1", p.MSMMinLog, p.MSMMaxLog}, {"ntt", p.NTTMinLog, p.NTTMaxLog}} {
		if op.maxL == 0 || skipped(r, "primitives") {
			continue
		}
		for _, d := range devices {
			inputs := []string{"host"}
			if d != "cpu" {
				inputs = append(inputs, "device")
			}
			for _, in := range inputs {
				for logN := op.minLog; logN <= op.maxL; logN++ {
					i := slices.IndexFunc(r.Primitives, func(x Primitive) bool {
						return x.Op == op.name && x.Device == d && x.Inputs == in && x.LogN == logN
					})
					if i < 0 {
						bad("primitives: %s 2^%d on %s (%s) missing", op.name, logN, d, in)
						continue
					}
					problems = append(problems, checkStat(fmt.Sprintf("primitives: %s 2^%d on %s", op.name, logN, d), r.Primitives[i].Time, p.PrimitiveRuns)...)
				}
			}
		}
	}

	problems = append(problems, checkDevices(r)...)

	if p.QueuedJobs > 0 && !skipped(r, "load") {
		switch l := r.Load; {
		case l == nil:
			bad("load: missing")
		case l.Jobs != p.QueuedJobs || l.Streams != min(p.WatchStreams, p.QueuedJobs):
			bad("load: %d jobs and %d streams, want %d and %d", l.Jobs, l.Streams, p.QueuedJobs, min(p.WatchStreams, p.QueuedJobs))
		case l.SubmitPerSecond <= 0 || l.SubmitP50 <= 0 || l.SubmitP99 < l.SubmitP50 || l.FanOut <= 0 || l.StreamsOpen <= 0:
			bad("load: a figure is missing or out of order")
		}
	}
	if p.AdmissionCallers > 0 && !skipped(r, "admission") {
		if !slices.ContainsFunc(r.Admission, func(a AdmissionReport) bool { return a.Backend == "embedded" }) {
			bad("admission: the embedded backend missing")
		}
		for _, a := range r.Admission {
			name := "admission: " + a.Backend
			problems = append(problems, checkStat(name+": submissions/s", a.SubmitPerSecond, p.AdmissionRounds)...)
			problems = append(problems, checkStat(name+": no-op calls/s", a.NoopPerSecond, p.AdmissionRounds)...)
			if a.Ratio <= 0 || a.Submissions <= 0 || a.SubmitP50 <= 0 || a.SubmitP99 < a.SubmitP50 {
				bad("%s: a figure is missing or out of order", name)
			}
		}
	}
	return problems
}

func checkStat(name string, s Stat, runs int) []string {
	switch {
	case s.Runs != runs:
		return []string{fmt.Sprintf("%s: %d runs, want %d", name, s.Runs, runs)}
	case s.Min <= 0 || s.Min > s.Median || s.Median > s.Max:
		return []string{fmt.Sprintf("%s: min %g, median %g, max %g out of order", name, s.Min, s.Median, s.Max)}
	}
	return nil
}

func checkRun(name string, r LoopStats, proofs int) []string {
	switch {
	case len(r.Latencies) != proofs:
		return []string{fmt.Sprintf("%s: %d latencies for %d proofs", name, len(r.Latencies), proofs)}
	case r.PerSecond <= 0 || r.P50 <= 0 || r.P50 > r.P95 || r.P95 > r.P99:
		return []string{fmt.Sprintf("%s: throughput or percentiles missing or out of order", name)}
	}
	return nil
}

// CheckDir checks the report folder: its report.json (with Check), summary
// and charts.
func CheckDir(dir string) (*Report, []string, error) { return checkDir(dir, Check) }

func checkDir(dir string, check func(*Report) []string) (*Report, []string, error) {
	r, err := ReadReport(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil, nil, err
	}
	problems := check(r)
	files := []string{"README.md"}
	for _, c := range r.charts() {
		files = append(files, filepath.Join("charts", c.file))
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			problems = append(problems, fmt.Sprintf("report folder: %s missing or empty", f))
		}
	}
	return r, problems, nil
}

// CheckReport checks the report in dir, writes each problem to w, and
// fails with errcode.ReportIncomplete if there is any.
func CheckReport(dir string, w io.Writer) error {
	_, problems, err := CheckDir(dir)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(w, "check: %s\n", p)
	}
	if len(problems) > 0 {
		return errcode.Errorf(errcode.ReportIncomplete, "benchmark report check failed: %d problems in %s", len(problems), dir)
	}
	return nil
}
