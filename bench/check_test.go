package bench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testProfile = Profile{
	Name: "test", Circuits: []string{"invoice-consistency/v1"}, SyntheticMinLog: 4, SyntheticMaxLog: 6, ProveRuns: 3,
	ServiceCircuit: "invoice-consistency/v1", Concurrency: []int{1, 2}, ProofsPerLevel: 4,
	MSMMinLog: 4, MSMMaxLog: 6, NTTMinLog: 4, NTTMaxLog: 5, PrimitiveRuns: 2, QueuedJobs: 100, WatchStreams: 10,
}

func stat(median float64, runs int) Stat {
	return Stat{Median: median, Min: median * 0.9, Max: median * 1.1, Runs: runs}
}

func loop(perSecond float64, proofs int) LoopStats {
	lat := make([]float64, proofs)
	for i := range lat {
		lat[i] = (1 + float64(i)/10) / perSecond
	}
	return LoopStats{PerSecond: perSecond, P50: lat[proofs/2], P95: lat[proofs-1], P99: lat[proofs-1], Latencies: lat}
}

// completeReport is what a good run of p on a machine with gpus reports.
func completeReport(p Profile, gpus ...string) *Report {
	r := &Report{Profile: p, Machine: Machine{CPU: "test", Cores: 2, Go: "go1.26", Gnark: "v0.16.3", GnarkCrypto: "v0.21.0"}}
	devices := []string{"cpu"}
	for _, g := range gpus {
		r.Machine.GPUs = append(r.Machine.GPUs, GPU{ID: g, Name: g})
		devices = append(devices, g)
	}
	point := func(id string, synthetic bool, constraints int) SweepPoint {
		s := SweepPoint{Circuit: id, Synthetic: synthetic, Constraints: constraints, Compile: 0.01, Setup: 0.1, KeyLoad: 0.01,
			KeyBytes: 1 << 20, SetupPeak: 1 << 25, Solve: stat(0.001, p.ProveRuns)}
		for i, d := range devices {
			s.Prove = append(s.Prove, Prove{Device: d, Time: stat(float64(constraints)*1e-5/float64(i+1), p.ProveRuns), Peak: 1 << 26})
		}
		return s
	}
	for _, id := range p.Circuits {
		r.Sweep = append(r.Sweep, point(id, false, 7578))
	}
	for logN := p.SyntheticMinLog; logN <= p.SyntheticMaxLog; logN++ {
		r.Sweep = append(r.Sweep, point(syntheticID(logN), true, 1<<logN))
	}
	r.Service = &ServiceReport{Circuit: p.ServiceCircuit, Constraints: 7578, Workers: 2}
	for _, c := range p.concurrency() {
		r.Service.Levels = append(r.Service.Levels, ServiceLevel{Concurrency: c, Proofs: 5 * c,
			Raw: loop(8, 5*c), Service: loop(7.8, 5*c), Rounds: rounds(1.01, 0.95, 0.97, 0.99, 0.96),
			Stages: ServiceStages{Queued: 0.001, Running: 0.12, Around: 0.004}})
	}
	for i := range r.Service.Levels {
		l := &r.Service.Levels[i]
		l.Ratio, l.CPURatio = pairedRatio(l.Rounds, false), pairedRatio(l.Rounds, true)
	}
	for _, op := range []struct {
		name   string
		lo, hi int
	}{{"msm-g1", p.MSMMinLog, p.MSMMaxLog}, {"ntt", p.NTTMinLog, p.NTTMaxLog}} {
		for _, d := range devices {
			inputs := []string{"host"}
			if d != "cpu" {
				inputs = append(inputs, "device")
			}
			for _, in := range inputs {
				for logN := op.lo; logN <= op.hi; logN++ {
					r.Primitives = append(r.Primitives, Primitive{Op: op.name, Device: d, Inputs: in, LogN: logN,
						Time: stat(math.Ldexp(1e-6, logN), p.PrimitiveRuns)})
				}
			}
		}
	}
	r.Load = &LoadReport{Jobs: p.QueuedJobs, SubmitPerSecond: 1500, SubmitP50: 0.005, SubmitP99: 0.009, HeapQueuedBytes: 1 << 20,
		Streams: p.WatchStreams, StreamsOpen: 0.05, FanOut: 0.3, ClientInProcess: true}
	return r
}

// setRatios gives a level these rounds and their median.
func setRatios(l *ServiceLevel, ratios ...float64) {
	l.Rounds = rounds(ratios...)
	l.Proofs = len(ratios) * l.Concurrency
	l.Ratio, l.CPURatio = pairedRatio(l.Rounds, false), pairedRatio(l.Rounds, true)
}

// rounds of 0.5 s raw proving (1 s of CPU) with these service/raw ratios,
// of both wall and CPU time.
func rounds(ratios ...float64) []Round {
	var rs []Round
	for _, x := range ratios {
		rs = append(rs, Round{Raw: 0.5, Service: 0.5 / x, RawCPU: 1, ServiceCPU: 1 / x})
	}
	return rs
}

func TestCheckCompleteReport(t *testing.T) {
	for _, gpus := range [][]string{nil, {"cuda:0"}} {
		if problems := Check(completeReport(testProfile, gpus...)); len(problems) > 0 {
			t.Errorf("gpus %v: %v", gpus, problems)
		}
	}
}

// TestCheckFindsProblems breaks one thing at a time in a complete report.
func TestCheckFindsProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gpus  []string
		edit  func(r *Report)
		wants string
	}{
		{"failed section", nil, func(r *Report) { r.Failures = []string{"service: failed: boom"} }, "service: failed: boom"},
		{"missing circuit", nil, func(r *Report) { r.Sweep = r.Sweep[1:] }, "sweep: invoice-consistency/v1 missing"},
		{"missing first synthetic size", nil, func(r *Report) { r.Sweep = r.Sweep[:1] }, "sweep: synthetic-2^4 missing"},
		{"one synthetic size", nil, func(r *Report) { r.Sweep = r.Sweep[:2] }, "only one synthetic size"},
		{"wrong constraint count", nil, func(r *Report) { r.Sweep[2].Constraints = 33 }, "synthetic-2^5: 33 constraints"},
		{"larger circuit proved faster", nil, func(r *Report) { r.Sweep[3].Prove[0].Time = stat(1e-9, 3) }, "proved no slower"},
		{"no setup time", nil, func(r *Report) { r.Sweep[0].Setup = 0 }, "a figure is missing"},
		{"stats out of order", nil, func(r *Report) { r.Sweep[0].Prove[0].Time.Min = 5 }, "out of order"},
		{"too few runs", nil, func(r *Report) { r.Sweep[0].Solve.Runs = 1 }, "1 runs, want 3"},
		{"no GPU proofs", []string{"cuda:0"}, func(r *Report) { r.Sweep[0].Prove = r.Sweep[0].Prove[:1] }, "no proofs on cuda:0"},
		{"no service", nil, func(r *Report) { r.Service = nil }, "service: missing"},
		{"no stages", nil, func(r *Report) { r.Service.Levels[0].Stages = ServiceStages{} }, "stages"},
		{"throughput ratio too high", nil, func(r *Report) { setRatios(&r.Service.Levels[0], 3, 3, 3, 3, 3) }, "throughput 3.00 outside [0.5, 1.5]"},
		{"throughput ratio too low", nil, func(r *Report) { setRatios(&r.Service.Levels[1], 0.1, 0.1, 0.1, 0.1, 0.1) }, "throughput 0.10 outside"},
		// 20 % more work in the service path: every round's ratio about 0.97/1.2.
		{"service 20 % slower", nil, func(r *Report) { setRatios(&r.Service.Levels[0], 0.84, 0.79, 0.81, 0.83, 0.80) }, "CPU time 0.81 below 0.90"},
		{"a busy machine's wall times", nil, func(r *Report) {
			l := &r.Service.Levels[0]
			for i, x := range []float64{0.6, 1.4, 0.7, 1.2, 0.8} { // wall times swing; CPU times hold
				l.Rounds[i].Service = l.Rounds[i].Raw / x
			}
			l.Ratio = pairedRatio(l.Rounds, false)
			r.Failures = []string{"marker"}
		}, "marker"},
		{"one slow round is not a regression", nil, func(r *Report) {
			setRatios(&r.Service.Levels[0], 0.5, 0.98, 0.97, 0.99, 0.96)
			r.Failures = []string{"marker"}
		}, "marker"},
		{"too few rounds", nil, func(r *Report) { setRatios(&r.Service.Levels[0], 0.97, 0.97) }, "2 rounds for 2 proofs, want at least 5"},
		{"ratio not the rounds'", nil, func(r *Report) { r.Service.Levels[0].CPURatio = 1.2 }, "are not its rounds'"},
		{"no CPU time", nil, func(r *Report) { r.Service.Levels[0].Rounds[2].RawCPU = 0 }, "wall or CPU time is missing"},
		{"missing level", nil, func(r *Report) { r.Service.Levels = r.Service.Levels[:1] }, "concurrency levels [1], want [1 2]"},
		{"latencies lost", nil, func(r *Report) { r.Service.Levels[0].Service.Latencies = nil }, "0 latencies for 5 proofs"},
		{"percentiles out of order", nil, func(r *Report) { r.Service.Levels[0].Raw.P95 = 100 }, "percentiles missing or out of order"},
		{"missing MSM size", nil, func(r *Report) { r.Primitives = r.Primitives[1:] }, "msm-g1 2^4 on cpu (host) missing"},
		{"flat NTT", nil, func(r *Report) {
			for i := range r.Primitives {
				r.Primitives[i].Time = stat(1, 2)
			}
		}, "largest size is no slower"},
		{"no device-input MSM", []string{"cuda:0"}, func(r *Report) {
			var kept []Primitive
			for _, p := range r.Primitives {
				if p.Inputs != "device" {
					kept = append(kept, p)
				}
			}
			r.Primitives = kept
		}, "on cuda:0 (device) missing"},
		{"no load", nil, func(r *Report) { r.Load = nil }, "load: missing"},
		{"fewer jobs", nil, func(r *Report) { r.Load.Jobs = 5 }, "load: 5 jobs"},
		{"no fan-out", nil, func(r *Report) { r.Load.FanOut = 0 }, "load: a figure is missing"},
		{"no versions", nil, func(r *Report) { r.Machine.Gnark = "" }, "machine:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := completeReport(testProfile, tc.gpus...)
			tc.edit(r)
			problems := Check(r)
			if !strings.Contains(strings.Join(problems, "\n"), tc.wants) {
				t.Fatalf("want a problem containing %q, got %q", tc.wants, problems)
			}
			if tc.wants == "marker" && len(problems) != 1 {
				t.Fatalf("want only the marker, got %q", problems)
			}
		})
	}
}

func TestWriteAndCheckDir(t *testing.T) {
	dir := t.TempDir()
	r := completeReport(testProfile, "cuda:0")
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	back, problems, err := CheckDir(dir)
	if err != nil || len(problems) > 0 {
		t.Fatalf("%v %v", problems, err)
	}
	if len(back.Sweep) != len(r.Sweep) || back.Service.Levels[1].Ratio != r.Service.Levels[1].Ratio {
		t.Fatal("report.json did not round-trip")
	}
	summary, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Headline", "service/raw throughput: 0.97", "| synthetic-2^6", "prove cuda:0",
		"msm-g1 cuda:0 (device)", "charts/latency-cdf.svg", "10 WatchJob streams"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(string(summary), "Check: FAILED") {
		t.Error("a complete report's summary says its check failed")
	}

	os.Remove(filepath.Join(dir, "charts", "msm.svg"))
	if _, problems, _ := CheckDir(dir); !strings.Contains(strings.Join(problems, "\n"), "charts/msm.svg missing") {
		t.Fatalf("a missing chart was not found: %v", problems)
	}
}
