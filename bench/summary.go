package bench

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

type namedChart struct {
	file, title string
	chart       chart
}

var (
	timeAxis = axis{Log: true, Base: 10, Format: formatSeconds}
	pow2Axis = axis{Log: true, Base: 2, Format: formatPow2}
)

// charts are the report's figures, in the order the summary shows them.
func (r *Report) charts() []namedChart {
	prove := chart{Title: "Prove time vs constraints", XLabel: "constraints", YLabel: "prove time (median)", X: pow2Axis, Y: timeAxis}
	for _, dev := range r.proveDevices() {
		for _, synth := range []bool{true, false} {
			s := series{Name: dev + " synthetic", Dashed: !synth}
			if !synth {
				s.Name = dev + " circuits"
			}
			for _, p := range r.Sweep {
				if p.Synthetic != synth {
					continue
				}
				for _, pr := range p.Prove {
					if pr.Device == dev {
						s.Points = append(s.Points, [2]float64{float64(p.Constraints), pr.Time.Median})
					}
				}
			}
			slices.SortFunc(s.Points, func(a, b [2]float64) int { return int(a[0] - b[0]) })
			if len(s.Points) > 0 {
				prove.Series = append(prove.Series, s)
			}
		}
	}

	throughput := chart{Title: "Throughput vs concurrency", XLabel: "concurrent requests", YLabel: "proofs/s",
		X: axis{Log: true, Base: 2, Format: formatNumber}, Y: axis{Format: formatNumber}}
	cdf := chart{Title: "Latency CDF", XLabel: "latency", YLabel: "fraction of proofs", X: timeAxis, Y: axis{Format: formatNumber}}
	if s := r.Service; s != nil {
		raw, svc := series{Name: "raw groth16.Prove", Dashed: true}, series{Name: "proofmill over gRPC"}
		for i, l := range s.Levels {
			raw.Points = append(raw.Points, [2]float64{float64(l.Concurrency), l.Raw.PerSecond})
			svc.Points = append(svc.Points, [2]float64{float64(l.Concurrency), l.Service.PerSecond})
			cdf.Series = append(cdf.Series, cdfSeries(fmt.Sprintf("service, %d at once", l.Concurrency), l.Service.Latencies, false))
			if i == 0 {
				cdf.Series = append(cdf.Series, cdfSeries(fmt.Sprintf("raw, %d at once", l.Concurrency), l.Raw.Latencies, true))
			}
		}
		throughput.Series = []series{svc, raw}
	}

	msm := chart{Title: "G1 MSM time vs size", XLabel: "points", YLabel: "time (median)", X: pow2Axis, Y: timeAxis}
	ntt := chart{Title: "NTT time vs size", XLabel: "elements", YLabel: "time (median)", X: pow2Axis, Y: timeAxis}
	for _, k := range r.primitiveSeries() {
		s := series{Name: k.device, Dashed: k.inputs == "device"}
		if k.device != "cpu" {
			s.Name += ", inputs on " + k.inputs
		}
		for _, p := range r.Primitives {
			if p.Op == k.op && p.Device == k.device && p.Inputs == k.inputs {
				s.Points = append(s.Points, [2]float64{float64(int(1) << p.LogN), p.Time.Median})
			}
		}
		if k.op == "msm-g1" {
			msm.Series = append(msm.Series, s)
		} else {
			ntt.Series = append(ntt.Series, s)
		}
	}
	return []namedChart{
		{"prove-vs-constraints.svg", "Prove time vs constraints", prove},
		{"throughput-vs-concurrency.svg", "Throughput vs concurrency", throughput},
		{"latency-cdf.svg", "Latency CDF", cdf},
		{"msm.svg", "MSM time vs size", msm},
		{"ntt.svg", "NTT time vs size", ntt},
	}
}

func cdfSeries(name string, sorted []float64, dashed bool) series {
	s := series{Name: name, Dashed: dashed}
	for i, v := range sorted {
		s.Points = append(s.Points, [2]float64{v, float64(i+1) / float64(len(sorted))})
	}
	return s
}

func (r *Report) proveDevices() []string {
	var ds []string
	for _, p := range r.Sweep {
		for _, pr := range p.Prove {
			if !slices.Contains(ds, pr.Device) {
				ds = append(ds, pr.Device)
			}
		}
	}
	return ds
}

type primitiveKey struct{ op, device, inputs string }

func (r *Report) primitiveSeries() []primitiveKey {
	var ks []primitiveKey
	for _, p := range r.Primitives {
		if k := (primitiveKey{p.Op, p.Device, p.Inputs}); !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// mib formats a byte count; small ones in KiB.
func mib(b int64) string {
	if b > -1<<20 && b < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func rateCell(s Stat) string {
	return fmt.Sprintf("%.0f (%.0f–%.0f)", s.Median, s.Min, s.Max)
}

func statCell(s Stat) string {
	if s.Runs == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", formatSeconds(s.Median), formatSeconds(s.Min), formatSeconds(s.Max))
}

// table writes a Markdown table.
func table(b *bytes.Buffer, header []string, rows [][]string) {
	w := tabwriter.NewWriter(b, 0, 0, 1, ' ', 0)
	line := func(cells []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, "\t| ")) }
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	w.Flush()
	b.WriteString("\n")
}

// Headline is the run in a few figures: what a reader looks at first.
func (r *Report) Headline() []string {
	var hs []string
	if s := r.Service; s != nil && len(s.Levels) > 0 {
		best := s.Levels[0]
		for _, l := range s.Levels {
			if l.Service.PerSecond > best.Service.PerSecond {
				best = l
			}
		}
		l1 := s.Levels[0]
		hs = append(hs, fmt.Sprintf("service/raw throughput: %.2f at concurrency %d, %.2f at %d (%s, %d constraints); raw/service CPU time %.2f at concurrency %d",
			l1.Ratio, l1.Concurrency, best.Ratio, best.Concurrency, s.Circuit, s.Constraints, l1.CPURatio, l1.Concurrency),
			fmt.Sprintf("proofs/s through the service: %.2f at best (raw gnark %.2f at the same concurrency); p50 latency %s at concurrency 1, %s raw",
				best.Service.PerSecond, best.Raw.PerSecond, formatSeconds(l1.Service.P50), formatSeconds(l1.Raw.P50)))
	}
	for _, k := range r.primitiveSeries() {
		var pts []string
		for _, p := range r.Primitives {
			if p.Op == k.op && p.Device == k.device && p.Inputs == k.inputs && (p.LogN%2 == 0 || p.LogN == r.maxLog(k)) {
				pts = append(pts, fmt.Sprintf("2^%d %s", p.LogN, formatSeconds(p.Time.Median)))
			}
		}
		hs = append(hs, fmt.Sprintf("%s on %s (inputs on %s): %s", k.op, k.device, k.inputs, strings.Join(pts, ", ")))
	}
	if l := r.Load; l != nil {
		hs = append(hs, fmt.Sprintf("scheduler: %.0f submissions/s with %d jobs queued (p99 %s), %s heap; %d WatchJob streams open in %s, all notified in %s",
			l.SubmitPerSecond, l.Jobs, formatSeconds(l.SubmitP99), mib(l.HeapQueuedBytes), l.Streams, formatSeconds(l.StreamsOpen), formatSeconds(l.FanOut)))
	}
	for _, a := range r.Admission {
		hs = append(hs, fmt.Sprintf("admission (%s, a separate serve): %.0f submissions/s, %.3g× the no-op RPC, p99 %s",
			a.Backend, a.SubmitPerSecond.Median, a.Ratio, formatSeconds(a.SubmitP99)))
	}
	return append(hs, r.deviceHeadline()...)
}

func (r *Report) maxLog(k primitiveKey) int {
	m := 0
	for _, p := range r.Primitives {
		if p.Op == k.op && p.Device == k.device && p.Inputs == k.inputs {
			m = max(m, p.LogN)
		}
	}
	return m
}

// Markdown is the report's summary for people.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	m := r.Machine
	fmt.Fprintf(&b, "# proofmill benchmark: %s profile\n\n", r.Profile.Name)
	fmt.Fprintf(&b, "%s, %.0f s. %s, %d cores, %s memory, %s. %s, gnark %s, gnark-crypto %s, proofmill %s.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Seconds, m.CPU, m.Cores, mib(int64(m.MemoryBytes)), m.OS, m.Go, m.Gnark, m.GnarkCrypto, m.Proofmill)
	if r.DryRun {
		b.WriteString("**Dry run on ICICLE's CPU backend (`icicle-cpu:0`), not a GPU: it checks that the device run works, and no figure here says anything of a GPU.**\n\n")
	}
	if len(m.GPUs) == 0 {
		b.WriteString("No GPU measured.\n\n")
	}
	for _, g := range m.GPUs {
		fmt.Fprintf(&b, "GPU %s: %s, %s.\n\n", g.ID, g.Name, mib(int64(g.MemoryBytes)))
	}
	if hs := r.Headline(); len(hs) > 0 {
		b.WriteString("## Headline\n\n")
		for _, h := range hs {
			fmt.Fprintf(&b, "- %s\n", h)
		}
		b.WriteString("\n")
	}
	if problems := Check(r); len(problems) > 0 {
		b.WriteString("## Check: FAILED\n\n")
		for _, p := range problems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
		b.WriteString("\n")
	}

	if len(r.Sweep) > 0 {
		b.WriteString("## Size sweep\n\nTimes are the median of the runs, with min–max. Peak memory is the process's resident high-water mark during setup and during the timed proofs.\n\n")
		header := []string{"circuit", "constraints", "compile", "setup", "key load", "keys", "solve"}
		devices := r.proveDevices()
		for _, d := range devices {
			header = append(header, "prove "+d, "peak "+d)
		}
		header = append(header, "peak setup")
		var rows [][]string
		for _, p := range r.Sweep {
			row := []string{p.Circuit, fmt.Sprint(p.Constraints), formatSeconds(p.Compile), formatSeconds(p.Setup),
				formatSeconds(p.KeyLoad), mib(p.KeyBytes), statCell(p.Solve)}
			for _, d := range devices {
				cells := []string{"–", "–"}
				for _, pr := range p.Prove {
					if pr.Device == d {
						cells = []string{statCell(pr.Time), mib(int64(pr.Peak))}
					}
				}
				row = append(row, cells...)
			}
			rows = append(rows, append(row, mib(int64(p.SetupPeak))))
		}
		table(&b, header, rows)
		for _, n := range r.SweepNotes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n![prove time vs constraints](charts/prove-vs-constraints.svg)\n\n")
	}

	if s := r.Service; s != nil {
		fmt.Fprintf(&b, "## Service vs raw gnark\n\n%s (%d constraints). Raw: `groth16.Prove` on the same keys and witness, N at once. Service: N clients each submitting over gRPC to the embedded server (%d proving slots) and waiting for the verified proof. Raw and service alternate, in rounds of N proofs each. Ratio: service proofs/s ÷ raw proofs/s; CPU: raw CPU time ÷ service CPU time (the check's gate, at least %.2f); each the median of the rounds'.\n\n",
			s.Circuit, s.Constraints, s.Workers, minCPURatio)
		var rows [][]string
		for _, l := range s.Levels {
			rows = append(rows, []string{fmt.Sprint(l.Concurrency), fmt.Sprint(l.Proofs), fmt.Sprintf("%.2f", l.Raw.PerSecond),
				fmt.Sprintf("%.2f", l.Service.PerSecond), fmt.Sprintf("%.2f", l.Ratio), fmt.Sprintf("%.2f", l.CPURatio),
				fmt.Sprintf("%s / %s / %s", formatSeconds(l.Service.P50), formatSeconds(l.Service.P95), formatSeconds(l.Service.P99)),
				fmt.Sprintf("%s / %s / %s", formatSeconds(l.Raw.P50), formatSeconds(l.Raw.P95), formatSeconds(l.Raw.P99)),
				fmt.Sprintf("%s / %s / %s", formatSeconds(l.Stages.Queued), formatSeconds(l.Stages.Running), formatSeconds(l.Stages.Around))})
		}
		table(&b, []string{"concurrency", "proofs", "raw proofs/s", "service proofs/s", "ratio", "CPU", "service p50 / p95 / p99", "raw p50 / p95 / p99",
			"service: queued / running / around (medians)"}, rows)
		b.WriteString("Running is a job's time in a worker (witness, prove, verify, store): compare it with raw p50. Around is the rest: gRPC, admission, the watch's notice.\n\n")
		b.WriteString("![throughput vs concurrency](charts/throughput-vs-concurrency.svg)\n\n![latency CDF](charts/latency-cdf.svg)\n\n")
	}

	if len(r.Primitives) > 0 {
		b.WriteString("## MSM and NTT\n\nG1 MSM is gnark-crypto's `MultiExp` on the CPU; NTT is `fft.Domain.FFT`. GPU rows go through ICICLE, with inputs copied from the host in each call, or already on the device.\n\n")
		keys := r.primitiveSeries()
		header := []string{"size"}
		for _, k := range keys {
			header = append(header, fmt.Sprintf("%s %s (%s)", k.op, k.device, k.inputs))
		}
		var logs []int
		for _, p := range r.Primitives {
			if !slices.Contains(logs, p.LogN) {
				logs = append(logs, p.LogN)
			}
		}
		slices.Sort(logs)
		var rows [][]string
		for _, l := range logs {
			row := []string{fmt.Sprintf("2^%d", l)}
			for _, k := range keys {
				cell := "–"
				for _, p := range r.Primitives {
					if p.Op == k.op && p.Device == k.device && p.Inputs == k.inputs && p.LogN == l {
						cell = formatSeconds(p.Time.Median)
					}
				}
				row = append(row, cell)
			}
			rows = append(rows, row)
		}
		table(&b, header, rows)
		b.WriteString("![MSM](charts/msm.svg)\n\n![NTT](charts/ntt.svg)\n\n")
	}

	if l := r.Load; l != nil {
		b.WriteString("## Scheduler load\n\nThe embedded server with no workers: every job stays queued. The client runs in the same process, so memory figures include it.\n\n")
		table(&b, []string{"figure", "value"}, [][]string{
			{"jobs queued", fmt.Sprint(l.Jobs)},
			{"submissions/s (8 clients)", fmt.Sprintf("%.0f", l.SubmitPerSecond)},
			{"submit p50 / p99", formatSeconds(l.SubmitP50) + " / " + formatSeconds(l.SubmitP99)},
			{"Go heap growth, all queued", mib(l.HeapQueuedBytes)},
			{"resident memory growth, all queued", mib(l.RSSQueuedBytes)},
			{"WatchJob streams", fmt.Sprint(l.Streams)},
			{"time to open them all", formatSeconds(l.StreamsOpen)},
			{"Go heap growth, streams open", mib(l.HeapStreamsBytes)},
			{"cancel the watched jobs until every stream saw it", formatSeconds(l.FanOut)},
		})
	}
	if len(r.Admission) > 0 {
		a0 := r.Admission[0]
		fmt.Fprintf(&b, "## Admission\n\nSubmitProof as a client sees it: a separate `proofmill serve --workers none` per backend, %d callers on one connection, "+
			"each submission a distinct invoice, against the gRPC health check (the no-op RPC) in the same run, %d windows of each, interleaved. "+
			"Rates are the median (min–max) over the windows.\n\n", a0.Callers, a0.SubmitPerSecond.Runs)
		var rows [][]string
		for _, a := range r.Admission {
			rows = append(rows, []string{a.Backend, rateCell(a.SubmitPerSecond), rateCell(a.NoopPerSecond), fmt.Sprintf("%.3g", a.Ratio),
				formatSeconds(a.SubmitP50) + " / " + formatSeconds(a.SubmitP99)})
		}
		table(&b, []string{"backend", "submissions/s", "no-op calls/s", "ratio", "submit p50 / p99"}, rows)
	}
	r.deviceMarkdown(&b)
	if len(r.Notes)+len(r.Failures) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range append(slices.Clone(r.Failures), r.Notes...) {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	b.WriteString("Reproduce: `go run ./cmd/proofmill bench --profile " + r.Profile.Name + " --out DIR` (GPU: build with `-tags icicle`, see Dockerfile.cuda).\n")
	return b.Bytes()
}
