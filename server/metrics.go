package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proofmill/proofmill/scheduler"
)

// MetricsSources are the readings the metrics are made from.
type MetricsSources struct {
	Waiting     func(ctx context.Context) ([2]int, error)                  // jobs waiting by priority
	Counts      func(ctx context.Context) (map[scheduler.State]int, error) // stored jobs by state; nil: not exported
	Busy, Slots func() int                                                 // worker slots proving / in all
}

// Metrics are proofmill's Prometheus metrics, in a registry of their own.
type Metrics struct {
	Registry *prometheus.Registry
	latency  *prometheus.HistogramVec
	attempts *prometheus.CounterVec
	fallback *prometheus.CounterVec
}

// NewMetrics registers the metrics over src.
func NewMetrics(src MetricsSources) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proofmill_proof_seconds",
			Help:    "Time to prove and verify one job, by circuit and backend.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14), // 50 ms .. 7 min
		}, []string{"circuit", "backend"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proofmill_attempts_total",
			Help: "Proof attempts, by circuit and outcome (ok, retry, fail).",
		}, []string{"circuit", "outcome"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proofmill_device_fallbacks_total",
			Help: "Jobs a device failed (crashed, hung, rejected proof, unhealthy) and the CPU proved instead, by device and reason.",
		}, []string{"device", "reason"}),
	}
	depth := prometheus.NewDesc("proofmill_queue_depth", "Jobs waiting, by priority.", []string{"priority"}, nil)
	jobs := prometheus.NewDesc("proofmill_jobs", "Stored jobs, by state.", []string{"state"}, nil)
	m.Registry.MustRegister(
		m.latency, m.attempts, m.fallback,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "proofmill_worker_utilization", Help: "Share of worker slots proving now."},
			func() float64 { return float64(src.Busy()) / float64(max(src.Slots(), 1)) }),
		collectorFunc{descs: []*prometheus.Desc{depth, jobs}, collect: func(ch chan<- prometheus.Metric) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			w, err := src.Waiting(ctx)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(depth, err)
				return
			}
			for p, n := range w {
				ch <- prometheus.MustNewConstMetric(depth, prometheus.GaugeValue, float64(n), scheduler.Priority(p).String())
			}
			if src.Counts == nil {
				return
			}
			counts, err := src.Counts(ctx)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(jobs, err)
				return
			}
			for _, s := range []scheduler.State{scheduler.Queued, scheduler.Running, scheduler.Succeeded, scheduler.Failed, scheduler.Cancelled} {
				ch <- prometheus.MustNewConstMetric(jobs, prometheus.GaugeValue, float64(counts[s]), string(s))
			}
		}},
	)
	return m
}

// Observe records one attempt; it fits worker.Config.Observe.
func (m *Metrics) Observe(job *scheduler.Job, o scheduler.Outcome, took time.Duration) {
	outcome := "ok"
	switch {
	case o.Err != nil && o.Retryable:
		outcome = "retry"
	case o.Err != nil:
		outcome = "fail"
	default:
		m.latency.WithLabelValues(job.Circuit, o.Backend).Observe(took.Seconds())
	}
	m.attempts.WithLabelValues(job.Circuit, outcome).Inc()
}

// Fallback counts a job moved from a failing device to the CPU; it fits
// prover.Config.OnFallback.
func (m *Metrics) Fallback(device, reason string) { m.fallback.WithLabelValues(device, reason).Inc() }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
