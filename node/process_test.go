package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// startServe runs `proofmill serve` as a child process and waits until it answers.
func startServe(t *testing.T, data, addr string) (*proctest.Process, *client.Client) {
	t.Helper()
	p := proctest.Start(t, "server", "serve", "--data", data, "--keys", testkeys.Dir(), "--listen", addr,
		"--metrics", "", "--workers", "1", "--preload", "invoice-consistency/v1", "--shutdown-timeout", "30s")
	return p, proctest.Dial(t, p, addr)
}

func submitInvoices(t *testing.T, c *client.Client, n int) []string {
	t.Helper()
	ctx := timeout(t, time.Minute)
	var ids []string
	for i := range n {
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1000+i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.GetId())
	}
	return ids
}

// waitForProgress polls until some job has succeeded while others are unfinished.
func waitForProgress(t *testing.T, c *client.Client, ids []string) {
	t.Helper()
	ctx := timeout(t, time.Minute)
	for ctx.Err() == nil {
		done := 0
		for _, id := range ids {
			if j, err := c.Get(ctx, id); err == nil && j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED {
				done++
			}
		}
		if done > 0 && done < len(ids) {
			return
		}
		if done == len(ids) {
			t.Fatal("every job finished before the interruption; submit more")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no job finished")
}

// allComplete checks that every job succeeded exactly once, with a proof that verifies.
func allComplete(t *testing.T, c *client.Client, ids []string) {
	t.Helper()
	ctx := timeout(t, 3*time.Minute)
	seen := map[string]bool{}
	for _, id := range ids {
		j, err := c.Wait(ctx, id)
		if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s after restart: %v, %v", id, j, err)
		}
		if seen[j.GetId()] {
			t.Fatalf("job %s reported twice", id)
		}
		seen[j.GetId()] = true
		if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
			t.Fatalf("job %s: proof does not verify: %v %v", id, v, err)
		}
	}
}

// kill -9 with jobs queued and running: after a restart on the same data
// dir every accepted job completes, once.
func TestCrashLosesNoAcceptedJob(t *testing.T) {
	data, addr := t.TempDir(), proctest.FreeAddr(t)
	p, c := startServe(t, data, addr)
	ids := submitInvoices(t, c, 12)
	waitForProgress(t, c, ids)
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Exited
	c.Close()

	p2, c2 := startServe(t, data, addr)
	p2.WaitForLog(t, "recovered_jobs=")
	if log := p2.Logs(); strings.Contains(log, "recovered_jobs=0") {
		t.Fatalf("the restarted server recovered no jobs:\n%s", log)
	}
	allComplete(t, c2, ids)
}

// SIGTERM under load: the server stops within its bound, finishing the
// running proof; what was queued runs after the restart.
func TestGracefulShutdownLosesNothing(t *testing.T) {
	data, addr := t.TempDir(), proctest.FreeAddr(t)
	p, c := startServe(t, data, addr)
	ids := submitInvoices(t, c, 12)
	waitForProgress(t, c, ids)
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited:
		if p.Err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.Err, p.Logs())
		}
	case <-time.After(2 * time.Minute): // a hang; past its 30 s bound it exits non-zero, which the case above fails
		t.Fatal("server did not exit after SIGTERM")
	}
	c.Close()
	_, c2 := startServe(t, data, addr)
	allComplete(t, c2, ids)
}

// A crash loop of the server fails no accepted job: killed (-9) three
// times while the job runs (its device hangs, so it is surely running),
// it is still queued at the next start, and proves. Before, the third
// restart failed it: "the proving process stopped during each of 3
// attempts".
func TestCrashLoopFailsNoJob(t *testing.T) {
	data, addr := t.TempDir(), proctest.FreeAddr(t)
	var id string
	for kill := range 3 {
		p := proctest.Start(t, "server", "serve", "--data", data, "--keys", testkeys.Dir(), "--listen", addr,
			"--metrics", "", "--gpus", "fault:hang", "--device-timeout", "5m", "--max-attempts", "3", "--pin-budget-mib", "7",
			"--preload", "invoice-consistency/v1", "--dev-setup=false")
		c := proctest.Dial(t, p, addr)
		if kill == 0 {
			id = submitInvoices(t, c, 1)[0]
		}
		ctx := timeout(t, time.Minute)
		for {
			j, err := c.Get(ctx, id)
			if err == nil && j.GetState() == pb.JobState_JOB_STATE_RUNNING {
				break
			}
			if err != nil || j.GetState() != pb.JobState_JOB_STATE_QUEUED {
				t.Fatalf("kill %d: job %v %v; want it running", kill, j, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Exited
		c.Close()
	}
	// The device processes died with their parents: none holds a GPU.
	for start := time.Now(); len(deviceOrphans(t)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("device processes outlived their killed server: %v", deviceOrphans(t))
		}
	}
	_, c := startServe(t, data, addr) // the CPU only, now
	allComplete(t, c, []string{id})
}

// deviceOrphans lists the device processes TestCrashLoopFailsNoJob's
// servers started (marked by their pin budget of 7 MiB).
func deviceOrphans(t *testing.T) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, path := range procs {
		cmd, err := os.ReadFile(path)
		line := strings.ReplaceAll(string(cmd), "\x00", " ")
		if err == nil && strings.Contains(line, "--device fault:hang --stdio") && strings.Contains(line, "--pin-budget-mib 7") {
			found = append(found, filepath.Base(filepath.Dir(path)))
		}
	}
	return found
}
