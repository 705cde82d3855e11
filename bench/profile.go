package bench

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
)

// Profile sets what a run measures. Zero counts skip their section.
type Profile struct {
	Name string `json:"name"`

	// Sweep: registered circuits, then the synthetic circuit at 2^SyntheticMinLog
	// constraints, doubling up to 2^SyntheticMaxLog while the next size is
	// expected to fit in SweepBudget (0: no limit).
	Circuits        []string      `json:"circuits"`
	SyntheticMinLog int           `json:"synthetic_min_log"`
	SyntheticMaxLog int           `json:"synthetic_max_log"`
	SweepBudget     time.Duration `json:"sweep_budget_ns"`
	ProveRuns       int           `json:"prove_runs"` // proofs per circuit and device; the median is reported

	// Service: ServiceCircuit proved ProofsPerLevel times at each concurrency,
	// through the service and raw. Nil Concurrency: 1, 2, 4, … up to 2× cores.
	ServiceCircuit string `json:"service_circuit"`
	Concurrency    []int  `json:"concurrency"`
	ProofsPerLevel int    `json:"proofs_per_level"`

	// Primitives: sizes 2^MinLog…2^MaxLog, PrimitiveRuns each.
	MSMMinLog     int `json:"msm_min_log"`
	MSMMaxLog     int `json:"msm_max_log"`
	NTTMinLog     int `json:"ntt_min_log"`
	NTTMaxLog     int `json:"ntt_max_log"`
	PrimitiveRuns int `json:"primitive_runs"`

	// Load: jobs queued with no worker running, then streams watching them.
	QueuedJobs   int `json:"queued_jobs"`
	WatchStreams int `json:"watch_streams"`

	// Admission: SubmitProof against the no-op RPC (the health check) on a
	// separate `serve --workers none` per backend, AdmissionCallers at
	// once, AdmissionRounds windows of AdmissionWindow each, interleaved.
	AdmissionCallers int           `json:"admission_callers"`
	AdmissionRounds  int           `json:"admission_rounds"`
	AdmissionWindow  time.Duration `json:"admission_window_ns"`

	// Devices (see device.go): ProveDevices are proved on in the sweep
	// besides the GPUs found ("icicle-cpu:0": gnark's ICICLE prover on
	// ICICLE's CPU backend); PinVariants proves on each device again with
	// its keys pinned in device memory ("ID+pin"). DeviceServiceCircuit
	// is proved through `serve --gpus` with each of ProcsPerGPU device
	// processes per GPU, against raw ICICLE Prove, DeviceServiceProofs
	// times at each of DeviceConcurrency (0 proofs skip it), and the
	// fault check kills its device process mid-proof (FaultCheck).
	ProveDevices         []string `json:"prove_devices,omitempty"`
	PinVariants          bool     `json:"pin_variants,omitempty"`
	DeviceServiceCircuit string   `json:"device_service_circuit,omitempty"`
	DeviceServiceProofs  int      `json:"device_service_proofs,omitempty"`
	DeviceConcurrency    []int    `json:"device_concurrency,omitempty"`
	ProcsPerGPU          []int    `json:"procs_per_gpu,omitempty"`
	FaultCheck           bool     `json:"fault_check,omitempty"`
	// MinRounds is the fewest rounds a service level has (its ratio is
	// their median); 0: 5. A dry run, whose figures mean nothing, takes 1.
	MinRounds int `json:"min_rounds,omitempty"`
	// SyntheticFirst sweeps the synthetic sizes before Circuits (the
	// large registered circuits are then the ones a time budget cuts).
	SyntheticFirst bool `json:"synthetic_first,omitempty"`
	// Order is the sections' order; empty: sweep, service, primitives,
	// load, admission, device-service, fault.
	Order []string `json:"order,omitempty"`
}

// AdmissionInputs is how many distinct invoices the admission section
// makes: enough that a fast server rarely submits one statement twice in
// a window (each submission has its own idempotency key anyway).
func (p Profile) AdmissionInputs() int {
	return min(20_000, max(1, p.AdmissionCallers*p.AdmissionRounds*200))
}

// Quick fits in under two minutes on two cores (about 80 s): the profile
// CI runs. Small circuits only: never abs-pool-4096.
func Quick() Profile {
	return Profile{
		Name:     "quick",
		Circuits: []string{"invoice-consistency/v1", "abs-pool-16/v1"},
		// 2^16 constraints: about 12 s of setup on two cores.
		SyntheticMinLog: 10, SyntheticMaxLog: 16, SweepBudget: 40 * time.Second, ProveRuns: 3,
		ServiceCircuit: "invoice-consistency/v1", ProofsPerLevel: 12,
		MSMMinLog: 12, MSMMaxLog: 20, NTTMinLog: 12, NTTMaxLog: 20, PrimitiveRuns: 3,
		QueuedJobs: 10_000, WatchStreams: 1_000,
		AdmissionCallers: 16, AdmissionRounds: 3, AdmissionWindow: 2 * time.Second,
	}
}

// Full is for GPU servers: every registered circuit, abs-pool-4096 (5.8M
// constraints, the large one: on 2 CPU cores its compile alone takes about
// 70 s and 4.8 GiB) included, the synthetic circuit up to 2^22 constraints
// as an hour allows, primitives up to 2^22. The sweep makes each circuit's
// keys itself (groth16.Setup into its scratch folder), as this profile
// asks for them.
func Full() Profile {
	return Profile{
		Name:            "full",
		Circuits:        circuits.IDs(), // abs-pool-4096/v1 last
		SyntheticMinLog: 10, SyntheticMaxLog: 22, SweepBudget: time.Hour, ProveRuns: 5,
		ServiceCircuit: "abs-pool-64/v1", ProofsPerLevel: 32,
		MSMMinLog: 12, MSMMaxLog: 22, NTTMinLog: 12, NTTMaxLog: 22, PrimitiveRuns: 5,
		QueuedJobs: 10_000, WatchStreams: 1_000,
		AdmissionCallers: 16, AdmissionRounds: 5, AdmissionWindow: 5 * time.Second,
	}
}

// GPURun is the device run's profile (hwaccel/gpu/run.sh), sized for one
// H200 in the minutes a run has: MSM and NTT 2^16…2^24, the synthetic
// circuit 2^16…2^22, then abs-pool-1024 and abs-pool-4096 (keys made on
// the machine: none fit in the prepared folder), each on the CPU cores,
// the GPU, and the GPU with pinned keys; the service with one and two
// device processes against raw ICICLE Prove; the fault check. The run's
// time budget (Config.Deadline) cuts sizes and circuits that would not
// fit, and the report says which.
func GPURun() Profile {
	return Profile{
		Name:     "gpu",
		Circuits: []string{"abs-pool-1024/v1", "abs-pool-4096/v1"}, SyntheticFirst: true,
		SyntheticMinLog: 16, SyntheticMaxLog: 22, ProveRuns: 3,
		MSMMinLog: 16, MSMMaxLog: 24, NTTMinLog: 16, NTTMaxLog: 24, PrimitiveRuns: 5,
		PinVariants:          true,
		DeviceServiceCircuit: "abs-pool-64/v1", DeviceServiceProofs: 16, DeviceConcurrency: []int{1, 4}, ProcsPerGPU: []int{1, 2},
		FaultCheck: true,
		Order:      []string{"primitives", "fault", "device-service", "sweep"},
	}
}

// GPUDry is the device run's --dry-run: the same sections at the smallest
// sizes, on ICICLE's CPU backend (icicle-cpu:0) instead of a GPU, in well
// under three minutes on two cores. Its figures say nothing of a GPU.
func GPUDry() Profile {
	p := GPURun()
	p.Name = "gpu-dry"
	// One size of each: CheckSpeeds compares the smallest and the largest,
	// and at the smallest sizes a loaded machine's noise decides that.
	// No registered circuit in the sweep: on ICICLE's CPU backend a proof
	// of invoice-consistency takes seconds; the device sections prove it.
	p.Circuits, p.SyntheticMinLog, p.SyntheticMaxLog, p.ProveRuns = nil, 10, 10, 1
	p.MSMMinLog, p.MSMMaxLog, p.NTTMinLog, p.NTTMaxLog, p.PrimitiveRuns = 10, 10, 10, 10, 2
	p.ProveDevices = []string{"icicle-cpu:0"}
	p.DeviceServiceCircuit, p.DeviceServiceProofs, p.DeviceConcurrency, p.MinRounds = "invoice-consistency/v1", 2, []int{2}, 1
	return p
}

// Profiles are the named profiles `proofmill bench --profile` takes.
var Profiles = map[string]func() Profile{"quick": Quick, "full": Full, "gpu": GPURun, "gpu-dry": GPUDry}

// concurrency returns the levels to measure.
func (p Profile) concurrency() []int {
	if len(p.Concurrency) > 0 {
		return p.Concurrency
	}
	limit := 2 * runtime.NumCPU()
	var levels []int
	for c := 1; c < limit; c *= 2 {
		levels = append(levels, c)
	}
	return append(levels, limit)
}

// Validate reports a profile that cannot run.
func (p Profile) Validate() error {
	for _, id := range append([]string{p.ServiceCircuit, p.DeviceServiceCircuit}, p.Circuits...) {
		if id == "" {
			continue
		}
		if _, err := circuits.Lookup(id); err != nil {
			return fmt.Errorf("bench: profile %s: %w", p.Name, err)
		}
	}
	if p.AdmissionCallers > 0 && (p.AdmissionRounds <= 0 || p.AdmissionWindow <= 0) {
		return fmt.Errorf("bench: profile %s: admission_callers without admission_rounds and admission_window", p.Name)
	}
	if p.ProofsPerLevel > 0 && p.ServiceCircuit == "" {
		return fmt.Errorf("bench: profile %s: proofs_per_level without service_circuit", p.Name)
	}
	if (p.DeviceServiceProofs > 0 || p.FaultCheck) && p.DeviceServiceCircuit == "" {
		return fmt.Errorf("bench: profile %s: device_service_proofs or fault_check without device_service_circuit", p.Name)
	}
	if p.DeviceServiceProofs > 0 && (len(p.ProcsPerGPU) == 0 || len(p.DeviceConcurrency) == 0) {
		return fmt.Errorf("bench: profile %s: device_service_proofs without procs_per_gpu and device_concurrency", p.Name)
	}
	for _, name := range p.Order {
		if !slices.ContainsFunc(sections, func(s section) bool { return s.name == name }) {
			return fmt.Errorf("bench: profile %s: unknown section %q in order", p.Name, name)
		}
	}
	for _, r := range [][2]int{{p.SyntheticMinLog, p.SyntheticMaxLog}, {p.MSMMinLog, p.MSMMaxLog}, {p.NTTMinLog, p.NTTMaxLog}} {
		if r[0] < 0 || r[1] > 28 || (r[1] > 0 && r[0] > r[1]) {
			return fmt.Errorf("bench: profile %s: bad size range 2^%d…2^%d", p.Name, r[0], r[1])
		}
	}
	return nil
}

// ProfileTimes say roughly how long each named profile runs.
var ProfileTimes = map[string]string{
	"quick":   "about 2 minutes on 2 cores",
	"full":    "an hour or more on a small CPU; for GPU servers",
	"gpu":     "the device run's: as --time-budget allows, on one GPU",
	"gpu-dry": "the device run's --dry-run on ICICLE's CPU backend: about 2 minutes on 2 cores",
}

// Plan is a run as a command line asks for it: a named profile, adjusted.
type Plan struct {
	Profile        string        // "quick" or "full"
	Out            string        // "": proofmill-bench-PROFILE-DATE
	Budget         time.Duration // bounds the synthetic sweep; 0: the profile's
	ServiceCircuit string        // "": the profile's
	ICICLEDevices  []string
	Only           []string      // sections to run (sweep, service, primitives, load, admission, device-service, fault); empty: all
	TimeBudget     time.Duration // the whole run's; sizes and sections past it are skipped, and noted. 0: none
}

// Config makes the run's Config from the plan; an unknown profile is an
// errcode.Usage.
func (p Plan) Config() (Config, error) {
	mk, ok := Profiles[p.Profile]
	if !ok {
		return Config{}, errcode.Errorf(errcode.Usage, "unknown profile %q (quick, full, gpu, gpu-dry)", p.Profile)
	}
	cfg := Config{Profile: mk(), Out: p.Out, ICICLEDevices: p.ICICLEDevices}
	if p.TimeBudget > 0 {
		cfg.Deadline = time.Now().Add(p.TimeBudget)
	}
	if cfg.Out == "" {
		cfg.Out = fmt.Sprintf("proofmill-bench-%s-%s", p.Profile, time.Now().Format("20060102-150405"))
	}
	if p.Budget > 0 {
		cfg.Profile.SweepBudget = p.Budget
	}
	if p.ServiceCircuit != "" {
		cfg.Profile.ServiceCircuit = p.ServiceCircuit
	}
	if len(p.Only) > 0 {
		var err error
		if cfg.Profile, err = cfg.Profile.only(p.Only); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// sectionFields clears a section from a profile: its zero counts skip it,
// and the report's check then expects nothing of it.
var sectionFields = map[string]func(*Profile){
	"sweep":          func(p *Profile) { p.Circuits, p.SyntheticMinLog, p.SyntheticMaxLog = nil, 0, 0 },
	"service":        func(p *Profile) { p.ProofsPerLevel = 0 },
	"primitives":     func(p *Profile) { p.MSMMinLog, p.MSMMaxLog, p.NTTMinLog, p.NTTMaxLog = 0, 0, 0, 0 },
	"load":           func(p *Profile) { p.QueuedJobs, p.WatchStreams = 0, 0 },
	"admission":      func(p *Profile) { p.AdmissionCallers = 0 },
	"device-service": func(p *Profile) { p.DeviceServiceProofs = 0 },
	"fault":          func(p *Profile) { p.FaultCheck = false },
}

// only is the profile with the named sections alone; an unknown name is
// an errcode.Usage naming the sections.
func (p Profile) only(names []string) (Profile, error) {
	keep := map[string]bool{}
	for _, n := range names {
		if sectionFields[n] == nil {
			return p, errcode.Errorf(errcode.Usage, "unknown section %q (sweep, service, primitives, load, admission, device-service, fault)", n)
		}
		keep[n] = true
	}
	for name, clear := range sectionFields {
		if !keep[name] {
			clear(&p)
		}
	}
	return p, nil
}
