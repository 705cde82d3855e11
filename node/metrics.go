package node

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/scheduler"
)

// metricsSources are the readings the metrics are made from.
type metricsSources struct {
	Waiting     func(ctx context.Context) (map[scheduler.Priority]int, error) // jobs waiting by priority
	Counts      func(ctx context.Context) (map[scheduler.State]int, error)    // stored jobs by state; nil: not exported
	Busy, Slots func() int                                                    // worker slots proving / in all
	// Devices are this process's GPUs' states; nil: it has none.
	Devices func() []hwaccel.DeviceStatus
	// Durable names the job store and says whether it keeps accepted jobs
	// now (see durability); nil: not exported.
	Durable func(ctx context.Context) (store string, durable bool)
	// Tenants labels the usage counters by tenant: set when the node has a
	// tenant table. Without one they have no tenant label at all.
	Tenants bool
}

// metricsSources are what the node's metrics read.
func (n *Node) metricsSources() metricsSources {
	src := metricsSources{Waiting: n.sched.Waiting, Counts: n.jobs.counts, Busy: n.busy, Slots: n.slots, Tenants: n.tenants != nil}
	if len(n.gpus) > 0 {
		src.Devices = func() []hwaccel.DeviceStatus {
			sts := make([]hwaccel.DeviceStatus, len(n.gpus))
			for i, d := range n.gpus {
				sts[i] = d.Status()
			}
			return sts
		}
	}
	var d *durability
	switch {
	case n.jobs.conn != nil:
		d = redisDurability(n.jobs.conn, n.dataLoss.Lost)
	case n.jobs.embedded != nil:
		d = journalDurability(n.cfg.DataDir)
		if _, ok := d.Durable(context.Background()); !ok {
			n.log.Warn("the journal lies on a file system in memory (tmpfs or ramfs): a reboot loses every accepted job; set --data-dir to a disk", "data_dir", n.cfg.DataDir)
		}
	}
	if d != nil {
		src.Durable = d.Durable
	}
	return src
}

// metrics are a node's Prometheus metrics, in a registry of their own.
type metrics struct {
	registry *prometheus.Registry
	latency  *prometheus.HistogramVec
	attempts *prometheus.CounterVec
	fallback *prometheus.CounterVec
	forecast prometheus.Histogram
	wait     *prometheus.HistogramVec
	failures *prometheus.CounterVec
	usage    usageCounters
}

// usageCounters count, by [tenant,] circuit and backend, what each outcome
// this process records adds to usage (see scheduler.Usage): summed over
// every process, each attempt counts once.
type usageCounters struct {
	tenants                               bool
	proofs, seconds, constraints, storedB *prometheus.CounterVec
}

func newUsageCounters(tenants bool) usageCounters {
	labels := []string{"circuit", "backend"}
	if tenants {
		labels = append([]string{"tenant"}, labels...)
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	return usageCounters{tenants: tenants,
		proofs:      counter("proofmill_usage_proofs_total", "Jobs proved (succeeded, proof verified), by tenant (with tenants), circuit and backend."),
		seconds:     counter("proofmill_usage_proof_seconds_total", "Worker seconds of every attempt that reported, failed ones too (job marked running to outcome recorded), by tenant (with tenants), circuit and backend."),
		constraints: counter("proofmill_usage_constraints_total", "Constraints of the circuits proved, summed over the proofs, by tenant (with tenants), circuit and backend."),
		storedB:     counter("proofmill_usage_stored_bytes_total", "Bytes of the proof files kept as proved jobs' results, by tenant (with tenants), circuit and backend."),
	}
}

func (u usageCounters) collectors() []prometheus.Collector {
	return []prometheus.Collector{u.proofs, u.seconds, u.constraints, u.storedB}
}

// add counts one recorded outcome's usage; it fits scheduler.Config.Used.
func (u usageCounters) add(use scheduler.Usage) {
	labels := []string{use.Circuit, use.Backend}
	if u.tenants {
		labels = append([]string{use.Tenant}, labels...)
	}
	u.proofs.WithLabelValues(labels...).Add(float64(use.Proofs))
	u.seconds.WithLabelValues(labels...).Add(float64(use.ProofMillis) / 1000)
	u.constraints.WithLabelValues(labels...).Add(float64(use.Constraints))
	u.storedB.WithLabelValues(labels...).Add(float64(use.StoredBytes))
}

// newMetrics registers the metrics over src.
func newMetrics(src metricsSources) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
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
		forecast: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "proofmill_start_forecast_error_seconds",
			Help:    "How much later than forecast at admission each job started (negative: earlier); see deadline-aware admission.",
			Buckets: []float64{-600, -120, -30, -10, -3, -1, 0, 1, 3, 10, 30, 120, 600},
		}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proofmill_queue_wait_seconds",
			Help:    "Time from a job's submission to its first start, by priority.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12), // 10 ms .. 30 min
		}, []string{"priority"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proofmill_failures_total",
			Help: "Proof attempts that ended in an error, by circuit, error kind (the errcode name, as GetJob's error_kind) and outcome (retry, fail).",
		}, []string{"circuit", "kind", "outcome"}),
		usage: newUsageCounters(src.Tenants),
	}
	depth := prometheus.NewDesc("proofmill_queue_depth", "Jobs waiting, by priority.", []string{"priority"}, nil)
	jobs := prometheus.NewDesc("proofmill_jobs", "Stored jobs, by state.", []string{"state"}, nil)
	m.registry.MustRegister(m.usage.collectors()...)
	m.registry.MustRegister(
		m.latency, m.attempts, m.fallback, m.forecast, m.wait, m.failures,
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
			for _, p := range scheduler.Priorities {
				ch <- prometheus.MustNewConstMetric(depth, prometheus.GaugeValue, float64(w[p]), p.String())
			}
			if src.Counts == nil {
				return
			}
			counts, err := src.Counts(ctx)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(jobs, err)
				return
			}
			for _, s := range scheduler.States {
				ch <- prometheus.MustNewConstMetric(jobs, prometheus.GaugeValue, float64(counts[s]), string(s))
			}
		}},
	)
	if src.Devices != nil {
		healthy := prometheus.NewDesc("proofmill_device_healthy",
			"1 while a GPU's device process is up and not marked unhealthy (failures in a row), else 0; by device.", []string{"device"}, nil)
		m.registry.MustRegister(collectorFunc{descs: []*prometheus.Desc{healthy}, collect: func(ch chan<- prometheus.Metric) {
			for _, st := range src.Devices() {
				ch <- prometheus.MustNewConstMetric(healthy, prometheus.GaugeValue, boolValue(st.Up && st.Healthy), st.ID)
			}
		}})
	}
	if src.Durable != nil {
		durable := prometheus.NewDesc("proofmill_durable",
			"1 while the job store keeps accepted jobs through a crash or restart, else 0: the journal on a file system in memory, Redis without appendonly or with an evicting policy, settings it cannot read, or Redis that lost its data; by store (journal, redis).",
			[]string{"store"}, nil)
		m.registry.MustRegister(collectorFunc{descs: []*prometheus.Desc{durable}, collect: func(ch chan<- prometheus.Metric) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			store, ok := src.Durable(ctx)
			ch <- prometheus.MustNewConstMetric(durable, prometheus.GaugeValue, boolValue(ok), store)
		}})
	}
	return m
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observe records one attempt; it fits worker.Config.Observe.
func (m *metrics) observe(job *scheduler.Job, o scheduler.Outcome, took time.Duration) {
	outcome := "ok"
	switch {
	case o.Err != nil && errcode.Retryable(o.Err):
		outcome = "retry"
	case o.Err != nil:
		outcome = "fail"
	default:
		m.latency.WithLabelValues(job.Circuit, o.Backend).Observe(took.Seconds())
	}
	m.attempts.WithLabelValues(job.Circuit, outcome).Inc()
	if o.Err != nil {
		m.failures.WithLabelValues(job.Circuit, string(errcode.Of(o.Err)), outcome).Inc()
	}
	if job.Attempts == 1 && !job.Started.IsZero() && !job.Submitted.IsZero() {
		m.wait.WithLabelValues(job.Priority.String()).Observe(max(job.Started.Sub(job.Submitted), 0).Seconds())
	}
}

// forecastMissed records how late a job started against its forecast; it
// fits scheduler.Config.ForecastError.
func (m *metrics) forecastMissed(late time.Duration) { m.forecast.Observe(late.Seconds()) }

// fellBack counts a job moved from a failing device to the CPU; it fits
// prover.Config.OnFallback.
func (m *metrics) fellBack(device, reason string) { m.fallback.WithLabelValues(device, reason).Inc() }

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
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
