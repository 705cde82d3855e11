package bench

import (
	"fmt"
	"slices"
	"strings"
)

// skipped reports whether the time budget cut a section.
func skipped(r *Report, section string) bool {
	return slices.ContainsFunc(r.Skipped, func(s string) bool { return strings.HasPrefix(s, section+":") })
}

// checkDevices checks the device sections: every sweep point proved on
// each of the profile's devices (pinned too, with PinVariants) with no
// proof failing verification; a device-service run for each process
// count; and a fault check that caught a proof on the device and still
// released a valid one, proved on the CPU.
func checkDevices(r *Report) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := r.Profile
	devices := slices.Clone(p.ProveDevices)
	for _, g := range r.Machine.GPUs {
		devices = append(devices, g.ID)
	}
	if p.PinVariants {
		for _, d := range devices {
			devices = append(devices, d+"+pin")
		}
	}
	for _, s := range r.Sweep {
		for _, d := range devices {
			if !slices.ContainsFunc(s.Prove, func(pr Prove) bool { return pr.Device == d }) {
				bad("sweep %s: no proofs on %s", s.Circuit, d)
			}
		}
		for _, pr := range s.Prove {
			if pr.Rejected > 0 {
				bad("sweep %s: %d of %d proofs on %s failed verification", s.Circuit, pr.Rejected, pr.Time.Runs, pr.Device)
			}
		}
	}
	measured := len(devices) > 0
	if p.DeviceServiceProofs > 0 && measured && !skipped(r, "device-service") {
		for _, procs := range p.ProcsPerGPU {
			i := slices.IndexFunc(r.DeviceService, func(d DeviceServiceRun) bool { return d.ProcsPerGPU == procs })
			if i < 0 {
				if !slices.ContainsFunc(r.Skipped, func(s string) bool { return strings.HasPrefix(s, fmt.Sprintf("device-service with %d ", procs)) }) {
					bad("device-service: no run with %d processes per GPU", procs)
				}
				continue
			}
			run := r.DeviceService[i]
			var levels []int
			for _, l := range run.Levels {
				levels = append(levels, l.Concurrency)
				name := fmt.Sprintf("device-service (%d processes) at concurrency %d", procs, l.Concurrency)
				problems = append(problems, checkRun(name+" raw", l.Raw, l.Proofs)...)
				problems = append(problems, checkRun(name+" service", l.Service, l.Proofs)...)
			}
			if !slices.Equal(levels, p.DeviceConcurrency) {
				bad("device-service (%d processes): concurrency levels %v, want %v", procs, levels, p.DeviceConcurrency)
			}
		}
	}
	if p.FaultCheck && measured && !skipped(r, "fault") {
		switch f := r.Fault; {
		case f == nil:
			bad("fault: missing")
		case f.KilledPID == 0:
			bad("fault: no proof was caught on the device in %d tries", f.Attempts)
		case f.State != "JOB_STATE_SUCCEEDED" || !f.Verified:
			bad("fault: after the device process was killed the job ended %s, its proof verified: %v", f.State, f.Verified)
		case f.Backend != "cpu":
			bad("fault: the job was proved on %s after its device process was killed, want the CPU", f.Backend)
		case f.Restarts < 1:
			bad("fault: the device process was not restarted")
		}
	}
	return problems
}
