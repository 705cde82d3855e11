package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/prover"
)

// DeviceServiceRun is DeviceServiceCircuit proved through `serve --gpus
// DEVICE --procs-per-gpu N` against raw ICICLE Prove in this process, on
// the same device, keys and witness, interleaved as the service section
// does (see serviceLevel).
type DeviceServiceRun struct {
	Device      string         `json:"device"`
	Circuit     string         `json:"circuit"`
	Constraints int            `json:"constraints"`
	ProcsPerGPU int            `json:"procs_per_gpu"`
	Levels      []ServiceLevel `json:"levels"`
}

// FaultReport is the fault check: the device process is killed while it
// proves a job. The job must still succeed, on the CPU, with a proof that
// verifies.
type FaultReport struct {
	Device    string `json:"device"`
	Circuit   string `json:"circuit"`
	Attempts  int    `json:"attempts"`   // jobs tried until one was caught on the device
	KilledPID int    `json:"killed_pid"` // 0: no job was caught mid-proof
	State     string `json:"state"`
	Backend   string `json:"backend"` // the job's prover after the kill
	Verified  bool   `json:"verified"`
	Restarts  int    `json:"restarts"` // the device's, after the kill
}

// openBackends opens the sweep's devices: the CPU, each GPU found and each
// of the profile's ProveDevices, and with PinVariants each again with its
// keys pinned ("ID+pin").
func (h *harness) openBackends() {
	h.backends = []hwaccel.Backend{hwaccel.CPU{}}
	ids := h.deviceIDs()
	for _, pin := range []bool{false, true} {
		if pin && !h.profile.PinVariants {
			break
		}
		for _, id := range ids {
			opts := hwaccel.DeviceOptions{}
			if pin {
				opts.Pin = hwaccel.PinPolicy("all", 0)
			}
			b, _, err := h.cfg.openDevice(id, opts)
			if err != nil {
				h.report.Failures = append(h.report.Failures, fmt.Sprintf("%s: not measured: %v", id, err))
				continue
			}
			if pin {
				b = renamed{b, id + "+pin"}
			}
			h.backends = append(h.backends, b)
		}
	}
}

// deviceIDs are the GPUs found, then the profile's ProveDevices.
func (h *harness) deviceIDs() []string {
	var ids []string
	for _, g := range h.report.Machine.GPUs {
		ids = append(ids, g.ID)
	}
	return append(ids, h.profile.ProveDevices...)
}

// renamed is a backend under another name: a device with pinned keys.
type renamed struct {
	hwaccel.Backend
	name string
}

func (r renamed) Name() string { return r.name }

// backend returns the opened (unpinned) backend of a device.
func (h *harness) backend(id string) (hwaccel.Backend, error) {
	for _, b := range h.backends {
		if b.Name() == id {
			return b, nil
		}
	}
	return nil, fmt.Errorf("device %s is not open in this process", id)
}

// deviceJob is the service circuit's example statement, its keys (made in
// the harness's key store when missing) and full witness.
type deviceJob struct {
	id    string
	input []byte
	job   hwaccel.Job
}

func (h *harness) deviceJob(id string) (deviceJob, error) {
	c, err := circuits.Lookup(id)
	if err != nil {
		return deviceJob{}, err
	}
	in, err := examples.Read(c.Example)
	if err != nil {
		return deviceJob{}, err
	}
	a, err := c.Assign(in)
	if err != nil {
		return deviceJob{}, err
	}
	full, err := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
	if err != nil {
		return deviceJob{}, err
	}
	p, err := prover.New(prover.Config{Store: prover.KeyStore{Dir: h.cfg.KeysDir}, DevSetup: true, Logger: h.cfg.Logger})
	if err != nil {
		return deviceJob{}, err
	}
	keys, err := p.Keys(c)
	if err != nil {
		return deviceJob{}, err
	}
	return deviceJob{id: id, input: in, job: hwaccel.Job{Circuit: id, CCS: keys.CCS, PK: keys.PK, Witness: full}}, nil
}

// firstDevice is the device the device sections measure: the first of
// deviceIDs; without one it notes why in the report and reports false.
func (h *harness) firstDevice(note string) (string, bool) {
	ids := h.deviceIDs()
	if len(ids) == 0 {
		h.report.Notes = append(h.report.Notes, note)
		return "", false
	}
	return ids[0], true
}

// proveThrough submits the statement and waits for its verified proof.
func proveThrough(ctx context.Context, cl *client.Client, dj deviceJob, key string) (*pb.Job, error) {
	j, err := cl.Prove(ctx, &pb.SubmitProofRequest{Circuit: dj.id, InputJson: string(dj.input), IdempotencyKey: key})
	if err != nil {
		return nil, err
	}
	if j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		return nil, fmt.Errorf("job %s ended %s: %s", j.GetId(), j.GetState(), j.GetError())
	}
	return j, nil
}

// deviceService measures the service on the first device against raw
// ICICLE Prove, with each of ProcsPerGPU device processes.
func (h *harness) deviceService(ctx context.Context) error {
	device, ok := h.firstDevice("device-service: no GPU, and no device in the profile: not measured")
	if !ok {
		return nil
	}
	id := h.profile.DeviceServiceCircuit
	fail := func(step string, err error) error {
		return fmt.Errorf("bench: device-service %s on %s: %s: %w", id, device, step, err)
	}
	raw, err := h.backend(device)
	if err != nil {
		return fail("raw", err)
	}
	dj, err := h.deviceJob(id)
	if err != nil {
		return fail("keys", err)
	}
	nonce := time.Now().UnixNano()
	for _, procs := range h.profile.ProcsPerGPU {
		if h.pastDeadline() {
			h.report.Skipped = append(h.report.Skipped, fmt.Sprintf("device-service with %d processes per GPU: skipped, the run's time budget was spent", procs))
			continue
		}
		h.logf("device-service %s on %s, %d processes", id, device, procs)
		run, err := h.deviceServiceRun(ctx, raw, dj, device, procs, nonce)
		if err != nil {
			return fail(fmt.Sprintf("%d processes", procs), err)
		}
		h.report.DeviceService = append(h.report.DeviceService, run)
	}
	return nil
}

func (h *harness) deviceServiceRun(ctx context.Context, raw hwaccel.Backend, dj deviceJob, device string, procs int, nonce int64) (DeviceServiceRun, error) {
	_, cl, stop, err := h.startService(ctx, serviceOptions{Preload: dj.id, GPUs: device, ProcsPerGPU: procs})
	if err != nil {
		return DeviceServiceRun{}, err
	}
	defer stop()
	run := DeviceServiceRun{Device: device, Circuit: dj.id, Constraints: dj.job.CCS.GetNbConstraints(), ProcsPerGPU: procs}
	// Warm up both sides: keys on the device, each device process's first proof.
	if _, err := raw.Prove(ctx, dj.job); err != nil {
		return run, fmt.Errorf("raw warm-up: %w", err)
	}
	for i := range procs {
		if _, err := proveThrough(ctx, cl, dj, fmt.Sprintf("bench-%d-%d-warm-%d", nonce, procs, i)); err != nil {
			return run, fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, conc := range h.profile.DeviceConcurrency {
		p := h.profile
		p.ProofsPerLevel = p.DeviceServiceProofs
		lvl, err := (&harness{cfg: h.cfg, profile: p}).serviceLevel(ctx, conc, func(ctx context.Context) error {
			_, err := raw.Prove(ctx, dj.job)
			return err
		}, func(ctx context.Context, i int) (*pb.Job, error) {
			j, err := proveThrough(ctx, cl, dj, fmt.Sprintf("bench-%d-%d-%d-%d", nonce, procs, conc, i))
			if err == nil && j.GetBackend() == "cpu" {
				err = fmt.Errorf("job %s was proved on the CPU: the device failed it", j.GetId())
			}
			return j, err
		})
		if err != nil {
			return run, err
		}
		run.Levels = append(run.Levels, lvl)
	}
	return run, nil
}

// faultAttempts bounds the jobs the fault check submits to catch one on
// the device: a small circuit can finish between two looks.
const faultAttempts = 5

// faultCheck kills the device process while it proves a job: the job must
// succeed on the CPU with a proof that verifies, and the device process
// must come back.
func (h *harness) faultCheck(ctx context.Context) error {
	device, ok := h.firstDevice("fault: no GPU, and no device in the profile: not checked")
	if !ok {
		return nil
	}
	id := h.profile.DeviceServiceCircuit
	fail := func(step string, err error) error {
		return fmt.Errorf("bench: fault check on %s: %s: %w", device, step, err)
	}
	dj, err := h.deviceJob(id)
	if err != nil {
		return fail("keys", err)
	}
	_, cl, stop, err := h.startService(ctx, serviceOptions{Preload: id, GPUs: device})
	if err != nil {
		return fail("start service", err)
	}
	defer stop()
	rep := &FaultReport{Device: device, Circuit: id}
	h.report.Fault = rep
	nonce := time.Now().UnixNano()
	// One proof first: the device process has its keys, and is up.
	if _, err := proveThrough(ctx, cl, dj, fmt.Sprintf("bench-%d-fault-warm", nonce)); err != nil {
		return fail("warm-up", err)
	}
	for rep.Attempts < faultAttempts && rep.KilledPID == 0 {
		rep.Attempts++
		j, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: id, InputJson: string(dj.input), IdempotencyKey: fmt.Sprintf("bench-%d-fault-%d", nonce, rep.Attempts)})
		if err != nil {
			return fail("submit", err)
		}
		if rep.KilledPID, err = killWhenBusy(ctx, cl, j.GetId(), device); err != nil {
			return fail("kill", err)
		}
		done, err := cl.Wait(ctx, j.GetId())
		if err != nil {
			return fail("wait", err)
		}
		if rep.KilledPID == 0 {
			continue // it finished first: try again
		}
		rep.State, rep.Backend = done.GetState().String(), done.GetBackend()
		if done.GetState() == pb.JobState_JOB_STATE_SUCCEEDED {
			v, err := cl.Verify(ctx, done.GetProofJson(), "")
			rep.Verified = err == nil && v.GetValid()
		}
	}
	if rep.KilledPID == 0 {
		return fail("kill", fmt.Errorf("no job was caught on the device in %d tries", faultAttempts))
	}
	// The supervisor restarts the process; wait for it (bounded).
	for wait := time.Now(); time.Since(wait) < time.Minute; time.Sleep(100 * time.Millisecond) {
		ds, err := cl.Devices(ctx)
		if err == nil && len(ds) > 1 && ds[1].GetRestarts() > 0 {
			rep.Restarts = int(ds[1].GetRestarts())
			break
		}
	}
	return nil
}

// killWhenBusy waits until the job runs and the device says it is busy,
// then kills the device process with SIGKILL and returns its pid; 0 when
// the job ended first.
func killWhenBusy(ctx context.Context, cl *client.Client, job, device string) (int, error) {
	for ctx.Err() == nil {
		j, err := cl.Get(ctx, job)
		if err != nil {
			return 0, err
		}
		switch j.GetState() {
		case pb.JobState_JOB_STATE_SUCCEEDED, pb.JobState_JOB_STATE_FAILED, pb.JobState_JOB_STATE_CANCELLED:
			return 0, nil
		case pb.JobState_JOB_STATE_RUNNING:
			ds, err := cl.Devices(ctx)
			if err == nil && len(ds) > 1 && ds[1].GetBusy() > 0 {
				pid, err := deviceProcess(device)
				if err != nil {
					return 0, err
				}
				return pid, syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, ctx.Err()
}

// deviceProcess finds this process's child serving the device (`worker
// --device ID --stdio`), in /proc.
func deviceProcess(device string) (int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return 0, errors.New("no /proc to find the device process in")
	}
	self := os.Getpid()
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …: comm may hold spaces; ppid follows the last ')'.
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(filepath.Dir(stat), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if strings.Contains(strings.Join(args, " "), "--device "+device+" --stdio") {
			return strconv.Atoi(filepath.Base(filepath.Dir(stat)))
		}
	}
	return 0, fmt.Errorf("no device process for %s among this process's children", device)
}
