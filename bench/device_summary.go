package bench

import (
	"bytes"
	"fmt"
	"strings"
)

// deviceHeadline is the device sections in a few lines: the GPU (or its
// stand-in) against the CPU cores per circuit, pinned against unpinned,
// the service against raw ICICLE Prove, and the fault check.
func (r *Report) deviceHeadline() []string {
	var hs []string
	if r.DryRun {
		hs = append(hs, "DRY RUN on ICICLE's CPU backend (icicle-cpu:0): no figure here is a GPU's")
	}
	rejected := 0
	for _, s := range r.Sweep {
		var cpu float64
		var parts []string
		for _, pr := range s.Prove {
			rejected += pr.Rejected
			if pr.Device == "cpu" {
				cpu = pr.Time.Median
				continue
			}
			if cpu > 0 && pr.Time.Median > 0 {
				parts = append(parts, fmt.Sprintf("%s %s (%.2f× the CPU's %s)", pr.Device, formatSeconds(pr.Time.Median), cpu/pr.Time.Median, formatSeconds(cpu)))
			}
		}
		if len(parts) > 0 {
			hs = append(hs, fmt.Sprintf("prove %s (%d constraints): %s", s.Circuit, s.Constraints, strings.Join(parts, ", ")))
		}
	}
	if len(r.proveDevices()) > 1 {
		hs = append(hs, fmt.Sprintf("device proofs failing the CPU's verification: %d", rejected))
	}
	for _, d := range r.DeviceService {
		for _, l := range d.Levels {
			hs = append(hs, fmt.Sprintf("serve --gpus %s --procs-per-gpu %d / raw ICICLE Prove: %.2f at concurrency %d (%.3g proofs/s against %.3g; %s)",
				d.Device, d.ProcsPerGPU, l.Ratio, l.Concurrency, l.Service.PerSecond, l.Raw.PerSecond, d.Circuit))
		}
	}
	if f := r.Fault; f != nil {
		hs = append(hs, fmt.Sprintf("fault check on %s: device process %d killed mid-proof (try %d); the job ended %s on %s, proof verified: %v; restarts %d",
			f.Device, f.KilledPID, f.Attempts, f.State, f.Backend, f.Verified, f.Restarts))
	}
	return hs
}

// deviceMarkdown writes the device sections of the summary.
func (r *Report) deviceMarkdown(b *bytes.Buffer) {
	if len(r.DeviceService) > 0 {
		b.WriteString("## Service on the device vs raw ICICLE Prove\n\nRaw: gnark's ICICLE `Prove` in the benchmark's process on the same device, keys and witness, N at once (gnark serializes them per device). Service: N clients submitting to the embedded server, which proves in its supervised device processes (`--procs-per-gpu`) and verifies every proof before release. Raw and service alternate, in rounds of N proofs each; ratio is service proofs/s ÷ raw proofs/s, the median of the rounds'.\n\n")
		var rows [][]string
		for _, d := range r.DeviceService {
			for _, l := range d.Levels {
				rows = append(rows, []string{d.Device, fmt.Sprint(d.ProcsPerGPU), fmt.Sprint(l.Concurrency), fmt.Sprintf("%.3g", l.Raw.PerSecond),
					fmt.Sprintf("%.3g", l.Service.PerSecond), fmt.Sprintf("%.2f", l.Ratio), formatSeconds(l.Service.P50)})
			}
		}
		table(b, []string{"device", "processes", "concurrency", "raw proofs/s", "service proofs/s", "ratio", "service p50"}, rows)
	}
	if f := r.Fault; f != nil {
		fmt.Fprintf(b, "## Fault check\n\nThe device process proving a job of %s on %s was killed (SIGKILL, pid %d, try %d of %d). The job ended %s, proved on %s; its proof verified: %v. The supervisor restarted the device process (%d restarts).\n\n",
			f.Circuit, f.Device, f.KilledPID, f.Attempts, faultAttempts, f.State, f.Backend, f.Verified, f.Restarts)
	}
	if len(r.Skipped)+len(r.LeftOut) > 0 {
		b.WriteString("## Cut by the time budget\n\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(b, "- %s\n", s)
		}
		if len(r.LeftOut) > 0 {
			fmt.Fprintf(b, "- left out of the sweep: %s (see the notes)\n", strings.Join(r.LeftOut, ", "))
		}
		b.WriteString("\n")
	}
}
