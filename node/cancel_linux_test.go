package node_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
)

// `proofmill cancel` of a running abs-pool-64 proof on --isolate-cpu stops
// it for real, on the embedded journal and on Redis (a worker process of
// its own): the process proving it is gone (killed and reaped), the job is
// cancelled with no proof, and the slot proves the next job in a fresh
// process. The wait is bounded at 10 s (a loaded machine is slow); the
// stop latency measured is logged.
func TestCancelStopsARunningProof(t *testing.T) {
	const circuit = "abs-pool-64/v1"
	c, _ := circuits.Lookup(circuit)
	if _, err := testkeys.Prover(t).Keys(c); err != nil { // made once per machine
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (addr string, cl *client.Client, prover *proctest.Process)
	}{
		{"embedded", func(t *testing.T) (string, *client.Client, *proctest.Process) {
			addr := proctest.FreeAddr(t)
			p := proctest.Start(t, "server", append([]string{"serve", "--listen", addr, "--metrics", "", "--data", t.TempDir(),
				"--keys", testkeys.Dir(), "--workers", "1", "--isolate-cpu", "--preload", circuit, "--dev-setup=false"}, proctest.ServiceKeyFlags(t)...)...)
			return addr, proctest.Dial(t, p, addr), p
		}},
		{"redis", func(t *testing.T) (string, *client.Client, *proctest.Process) {
			redis := redistest.Start(t)
			addr := proctest.FreeAddr(t)
			srv := proctest.Start(t, "server", append([]string{"serve", "--redis", redis.Addr, "--listen", addr, "--metrics", "",
				"--data", t.TempDir(), "--keys", testkeys.Dir(), "--preload", circuit, "--dev-setup=false"}, proctest.ServiceKeyFlags(t)...)...)
			cl := proctest.Dial(t, srv, addr)
			return addr, cl, startWorker(t, "worker", redis.Addr, "--isolate-cpu", "--preload", circuit)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, cl, prover := tc.start(t)
			ctx := timeout(t, 5*time.Minute)
			child := waitForChild(t, prover)
			j, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: circuit, InputJson: testinput.Pool(t, 0)})
			if err != nil {
				t.Fatal(err)
			}
			// The child proving, for real: its CPU time grows.
			idle := cpuTicks(t, child)
			for deadline := time.Now().Add(2 * time.Minute); cpuTicks(t, child) < idle+10; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the worker process never started proving")
				}
			}
			sent := time.Now()
			out, err := exec.Command(proctest.Binary(t), "cancel", "--server", addr, "--id", j.GetId()).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "JOB_STATE_CANCELLED") {
				t.Fatalf("proofmill cancel: %v\n%s", err, out)
			}
			answered := time.Since(sent)
			for deadline := time.Now().Add(10 * time.Second); syscall.Kill(child, 0) == nil; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the worker process %d still runs 10 s after the cancel", child)
				}
			}
			t.Logf("cancel answered in %s; the proving process %d was gone %s after the cancel was sent",
				answered.Round(time.Millisecond), child, time.Since(sent).Round(time.Millisecond))
			if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("worker process %d: %v, want it gone", child, err)
			}
			// The slot proves the next job, in a fresh process.
			next, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: circuit, InputJson: testinput.Pool(t, 1)})
			if err != nil {
				t.Fatal(err)
			}
			if done, err := cl.Wait(ctx, next.GetId()); err != nil || done.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("the next job: %v %v", done.GetState(), err)
			}
			if fresh := waitForChild(t, prover); fresh == child {
				t.Fatalf("the killed process %d is still the worker", child)
			}
			got, err := cl.Get(ctx, j.GetId())
			if err != nil || got.GetState() != pb.JobState_JOB_STATE_CANCELLED || got.GetErrorKind() != string(errcode.Cancelled) || len(got.GetProofJson()) != 0 {
				t.Fatalf("the cancelled job: %v %s proof %q, %v", got.GetState(), got.GetErrorKind(), got.GetProofJson(), err)
			}
		})
	}
}

// waitForChild returns the pid of p's one supervised worker process
// (`worker --device cpu --stdio`), waiting up to a minute for it.
func waitForChild(t *testing.T, p *proctest.Process) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		var found []int
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, dir := range dirs {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
			if parentOf(dir) == p.Cmd.Process.Pid && strings.Contains(string(cmdline), "--stdio") {
				found = append(found, pid)
			}
		}
		if len(found) == 1 {
			return found[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d worker processes under %d, want 1", len(found), p.Cmd.Process.Pid)
		}
	}
}

// statFields are /proc/PID/stat's fields after the command's name.
func statFields(dir string) []string {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil
	}
	s := string(stat)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

func parentOf(dir string) int {
	f := statFields(dir)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// cpuTicks is a process's user and system time, in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	f := statFields(filepath.Join("/proc", strconv.Itoa(pid)))
	if len(f) < 13 {
		t.Fatalf("process %d: no stat", pid)
	}
	user, _ := strconv.Atoi(f[11])
	sys, _ := strconv.Atoi(f[12])
	return user + sys
}

// On the in-process default a running job's cancel ends it cancelled at
// once, and the proof that finishes in the background afterwards is
// dropped: the job stays cancelled with no proof once the slot is free
// again (it proves the next job).
func TestCancelInProcessDropsTheProof(t *testing.T) {
	const circuit = "abs-pool-64/v1"
	c, _ := circuits.Lookup(circuit)
	if _, err := testkeys.Prover(t).Keys(c); err != nil {
		t.Fatal(err)
	}
	_, cl := startNode(t, func(cfg *node.Config) { cfg.Workers = 1; cfg.Preload = circuit })
	ctx := timeout(t, 5*time.Minute)
	j, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: circuit, InputJson: testinput.Pool(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		got, err := cl.Get(ctx, j.GetId())
		if err == nil && got.GetState() == pb.JobState_JOB_STATE_RUNNING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never running: %v %v", got.GetState(), err)
		}
	}
	cancelled, err := cl.Cancel(ctx, j.GetId())
	if err != nil || cancelled.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel a running job: %v %v", cancelled.GetState(), err)
	}
	next, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: circuit, InputJson: testinput.Pool(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := cl.Wait(ctx, next.GetId()); err != nil || done.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("the next job: %v %v", done.GetState(), err)
	}
	got, err := cl.Get(ctx, j.GetId())
	if err != nil || got.GetState() != pb.JobState_JOB_STATE_CANCELLED || len(got.GetProofJson()) != 0 {
		t.Fatalf("after its proof finished in the background: %v proof %q %v", got.GetState(), got.GetProofJson(), err)
	}
}

// A GPU's proof (the fault:hang test device, in the same supervised
// worker process a GPU gets) is stopped by a cancel the same way: the
// process is killed, though it would never end on its own, and the job is
// cancelled with no proof.
func TestCancelStopsAGPUProof(t *testing.T) {
	addr := proctest.FreeAddr(t)
	p := proctest.Start(t, "server", "serve", "--gpus", "fault:hang", "--device-timeout", "5m",
		"--data", t.TempDir(), "--keys", testkeys.Dir(), "--listen", addr, "--metrics", "",
		"--preload", "invoice-consistency/v1", "--dev-setup=false")
	cl := proctest.Dial(t, p, addr)
	ctx := timeout(t, 3*time.Minute)
	child := waitForChild(t, p)
	id := submitInvoices(t, cl, 1)[0]
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		ds, err := cl.Devices(ctx)
		if err == nil && len(ds) == 2 && ds[1].GetBusy() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device never took the job: %v %v", ds, err)
		}
	}
	sent := time.Now()
	if j, err := cl.Cancel(ctx, id); err != nil || j.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel: %v %v", j.GetState(), err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(child, 0) == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the device's worker process %d still runs 10 s after the cancel", child)
		}
	}
	t.Logf("the device's worker process was gone %s after the cancel was sent", time.Since(sent).Round(time.Millisecond))
	if j, err := cl.Get(ctx, id); err != nil || j.GetState() != pb.JobState_JOB_STATE_CANCELLED || len(j.GetProofJson()) != 0 {
		t.Fatalf("the cancelled job: %v %v", j.GetState(), err)
	}
	if fresh := waitForChild(t, p); fresh == child {
		t.Fatal("no fresh device worker")
	}
	if ds, err := cl.Devices(ctx); err != nil || ds[1].GetFailures() != 0 {
		t.Fatalf("a cancel counted against the device: %v %v", ds, err)
	}
}
