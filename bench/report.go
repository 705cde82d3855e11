package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Report is everything one run measured. Durations are in seconds.
type Report struct {
	Started    time.Time         `json:"started"`
	Seconds    float64           `json:"seconds"` // the whole run
	Profile    Profile           `json:"profile"`
	Machine    Machine           `json:"machine"`
	Sweep      []SweepPoint      `json:"sweep"`
	SweepNotes []string          `json:"sweep_notes,omitempty"` // sizes and circuits left out, and why
	Service    *ServiceReport    `json:"service,omitempty"`
	Primitives []Primitive       `json:"primitives"`
	Load       *LoadReport       `json:"load,omitempty"`
	Admission  []AdmissionReport `json:"admission,omitempty"` // per backend
	// DeviceService is `serve --gpus` against raw ICICLE Prove, per
	// device processes per GPU; Fault is the fault check (see device.go).
	DeviceService []DeviceServiceRun `json:"device_service,omitempty"`
	Fault         *FaultReport       `json:"fault,omitempty"`
	// DryRun: the devices were ICICLE's CPU backend, not GPUs; no figure
	// here says anything of a GPU.
	DryRun   bool     `json:"dry_run,omitempty"`
	Skipped  []string `json:"skipped,omitempty"`  // sections the time budget cut
	LeftOut  []string `json:"left_out,omitempty"` // circuits and synthetic sizes the time budget cut
	Notes    []string `json:"notes,omitempty"`    // for the reader, e.g. no GPU support in this build
	Failures []string `json:"failures,omitempty"` // sections that failed, devices that could not be measured
}

// Stat summarizes repeated timings.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Runs   int     `json:"runs"`
}

// SweepPoint is one circuit at one size.
type SweepPoint struct {
	Circuit     string  `json:"circuit"`
	Synthetic   bool    `json:"synthetic"`
	Constraints int     `json:"constraints"`
	Compile     float64 `json:"compile"`
	Setup       float64 `json:"setup"`
	KeyLoad     float64 `json:"key_load"` // proofmill's key store: hash every file, then decode
	KeyBytes    int64   `json:"key_bytes"`
	Solve       Stat    `json:"solve"`
	SetupPeak   uint64  `json:"setup_peak_bytes"`
	Prove       []Prove `json:"prove"` // per device
}

// Prove is one device's proofs of one circuit.
type Prove struct {
	Device string `json:"device"` // "cpu", "cuda:0"
	Time   Stat   `json:"time"`
	Peak   uint64 `json:"peak_bytes"` // host memory
	// Rejected counts the timed proofs that failed verification (each is
	// checked on the CPU, as the service checks every proof before release).
	Rejected int `json:"rejected"`
}

// ServiceReport compares proofs through the service with raw groth16.Prove.
type ServiceReport struct {
	Circuit     string         `json:"circuit"`
	Constraints int            `json:"constraints"`
	Workers     int            `json:"workers"` // the server's proving slots
	Levels      []ServiceLevel `json:"levels"`
}

// ServiceLevel is one concurrency level: rounds of Concurrency raw
// provers at once and Concurrency clients at once, Proofs proofs in all
// on each side.
type ServiceLevel struct {
	Concurrency int       `json:"concurrency"`
	Proofs      int       `json:"proofs"`
	Raw         LoopStats `json:"raw"`
	Service     LoopStats `json:"service"`
	// Ratio is service proofs/s ÷ raw proofs/s and CPURatio raw CPU time
	// ÷ service CPU time, each the median of its rounds' (see
	// pairedRatio). On a shared machine wall time swings with the
	// neighbours' load; the CPU time a proof takes barely does.
	Ratio    float64 `json:"ratio"`
	CPURatio float64 `json:"cpu_ratio"`
	Rounds   []Round `json:"rounds"`
	// Where the service's time went, medians from the jobs' timestamps.
	Stages ServiceStages `json:"stages"`
}

// Round is Concurrency raw proofs at once and Concurrency service proofs
// at once, measured back to back: their wall times, and the CPU time the
// process spent in each (the embedded server's included).
type Round struct {
	Raw        float64 `json:"raw"`
	Service    float64 `json:"service"`
	RawCPU     float64 `json:"raw_cpu"`
	ServiceCPU float64 `json:"service_cpu"`
}

// ServiceStages splits a service proof's latency.
type ServiceStages struct {
	Queued  float64 `json:"queued"`  // submitted → started: admission done, waiting for a slot
	Running float64 `json:"running"` // started → finished: witness, prove, verify, store
	Around  float64 `json:"around"`  // the rest: gRPC, admission checks, the watch's notice
}

// LoopStats is the throughput and latency of one closed loop.
type LoopStats struct {
	PerSecond float64   `json:"proofs_per_second"`
	P50       float64   `json:"p50"`
	P95       float64   `json:"p95"`
	P99       float64   `json:"p99"`
	Latencies []float64 `json:"latencies"` // sorted, for the CDF
}

// Primitive is one operation at one size on one device.
type Primitive struct {
	Op     string `json:"op"`     // "msm-g1", "ntt"
	Device string `json:"device"` // "cpu", "cuda:0"
	Inputs string `json:"inputs"` // "host" or "device"
	LogN   int    `json:"log_n"`
	Time   Stat   `json:"time"`
}

// LoadReport is the scheduler under many queued jobs and watchers.
type LoadReport struct {
	Jobs             int     `json:"jobs"`
	SubmitPerSecond  float64 `json:"submissions_per_second"`
	SubmitP50        float64 `json:"submit_p50"`
	SubmitP99        float64 `json:"submit_p99"`
	HeapQueuedBytes  int64   `json:"heap_queued_bytes"` // Go heap growth with every job queued
	RSSQueuedBytes   int64   `json:"rss_queued_bytes"`
	Streams          int     `json:"streams"`
	StreamsOpen      float64 `json:"streams_open"` // time to open every stream and get its first event
	HeapStreamsBytes int64   `json:"heap_streams_bytes"`
	FanOut           float64 `json:"fan_out"` // cancel every watched job until every stream saw it
	ClientInProcess  bool    `json:"client_in_process"`
}

// AdmissionReport is SubmitProof as a client sees it on one backend: a
// separate `serve --workers none` process over gRPC, against the health
// check (the no-op RPC) in the same run.
type AdmissionReport struct {
	Backend         string  `json:"backend"` // "embedded" or "redis"
	Callers         int     `json:"callers"`
	Submissions     int     `json:"submissions"`
	SubmitPerSecond Stat    `json:"submissions_per_second"` // over the rounds
	NoopPerSecond   Stat    `json:"noop_per_second"`
	Ratio           float64 `json:"ratio_to_noop"` // median submissions/s ÷ median no-op calls/s
	SubmitP50       float64 `json:"submit_p50"`
	SubmitP99       float64 `json:"submit_p99"`
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: report: %w", err)
	}
	return nil
}

// ReadReport reads a report.json.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("bench: report %s: %w", path, err)
	}
	return &r, nil
}
