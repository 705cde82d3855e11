package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/testkeys"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds proofmill once per test run, with the faultinject tag: it
// adds the "fault:MODE" test device and nothing else.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "proofmill-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "proofmill")
		out, err := exec.Command("go", "build", "-tags", "faultinject", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build proofmill: %v", buildErr)
	}
	return binPath
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type process struct {
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{} // closed when the process has exited; then err is set
	err    error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs proofmill as a child process; its logs are shown if
// the test fails, and it is killed at the end.
func startProcess(t testing.TB, name string, args ...string) *process {
	t.Helper()
	p := &process{logs: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Stderr, p.cmd.Stdout = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.logs.String())
		}
	})
	return p
}

// dialServer connects to a server process and waits until it answers.
func dialServer(t testing.TB, p *process, addr string) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, client.Options{Retries: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := timeout(t, time.Minute)
	if _, err := c.Devices(ctx); err != nil {
		t.Fatalf("server did not come up: %v\n%s", err, p.logs.String())
	}
	return c
}

// startServe runs `proofmill serve` as a child process and waits until it answers.
func startServe(t *testing.T, data, addr string) (*process, *client.Client) {
	t.Helper()
	p := startProcess(t, "server", "serve", "--data", data, "--keys", testkeys.Dir(), "--listen", addr,
		"--metrics", "", "--workers", "1", "--preload", "invoice-consistency/v1", "--shutdown-timeout", "30s")
	return p, dialServer(t, p, addr)
}

func submitInvoices(t *testing.T, c *client.Client, n int) []string {
	t.Helper()
	ctx := timeout(t, time.Minute)
	var ids []string
	for i := range n {
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 1000+i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.GetId())
	}
	return ids
}

// waitUntil polls until some job has succeeded while others are unfinished.
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
	data, addr := t.TempDir(), freeAddr(t)
	p, c := startServe(t, data, addr)
	ids := submitInvoices(t, c, 12)
	waitForProgress(t, c, ids)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	c.Close()

	p2, c2 := startServe(t, data, addr)
	if log := p2.logs.String(); strings.Contains(log, "recovered_jobs=0") || !strings.Contains(log, "recovered_jobs=") {
		t.Fatalf("the restarted server recovered no jobs:\n%s", log)
	}
	allComplete(t, c2, ids)
}

// SIGTERM under load: the server stops within its bound, finishing the
// running proof; what was queued runs after the restart.
func TestGracefulShutdownLosesNothing(t *testing.T) {
	data, addr := t.TempDir(), freeAddr(t)
	p, c := startServe(t, data, addr)
	ids := submitInvoices(t, c, 12)
	waitForProgress(t, c, ids)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.logs.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("server did not stop within its shutdown bound")
	}
	c.Close()
	_, c2 := startServe(t, data, addr)
	allComplete(t, c2, ids)
}
