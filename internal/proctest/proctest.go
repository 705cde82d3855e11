// Package proctest runs the proofmill binary as real processes for tests
// that kill, signal or restart them: it builds the binary once per test
// binary, starts processes whose logs are shown when the test fails, and
// connects to them on free loopback ports.
package proctest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/vault"
)

var (
	keyOnce   sync.Once
	keyDir    string
	keyErr    error
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// Binary builds proofmill once per test binary, with the faultinject tag
// (it adds the "fault:MODE" test device and nothing else), and returns its
// path. Call Cleanup from TestMain to remove it.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if binDir, buildErr = os.MkdirTemp("", "proofmill-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "proofmill")
		cmd := exec.Command("go", "build", "-tags", "faultinject", "-o", binPath, "./cmd/proofmill")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build proofmill: %v", buildErr)
	}
	return binPath
}

// Cleanup removes the built binary.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if keyDir != "" {
		os.RemoveAll(keyDir)
	}
}

// ServiceKey is the receipt key file the servers and workers of one test
// binary share, in processes or in the test's own: a worker must sign
// with the servers' key.
func ServiceKey(t testing.TB) string { return serviceKeys(t, "receipt.key") }

// MasterKey is the master key file they share: a worker decrypts the
// inputs servers encrypted.
func MasterKey(t testing.TB) string { return serviceKeys(t, "master.key") }

// InputKey is the input key file they share: servers publish it, workers
// open sealed inputs with it.
func InputKey(t testing.TB) string { return serviceKeys(t, "input.key") }

// ServiceKeyFlags are the flags that give a serve or worker process the
// three.
func ServiceKeyFlags(t testing.TB) []string {
	return []string{"--receipt-key", ServiceKey(t), "--master-key", MasterKey(t), "--input-key", InputKey(t)}
}

func serviceKeys(t testing.TB, name string) string {
	t.Helper()
	keyOnce.Do(func() {
		if keyDir, keyErr = os.MkdirTemp("", "proofmill-service-key-"); keyErr != nil {
			return
		}
		if _, _, keyErr = receipt.LoadOrCreateKey(filepath.Join(keyDir, "receipt.key")); keyErr != nil {
			return
		}
		if _, _, keyErr = vault.LoadOrCreateMasterKey(filepath.Join(keyDir, "master.key")); keyErr != nil {
			return
		}
		_, _, keyErr = sealed.LoadOrCreateKey(filepath.Join(keyDir, "input.key"))
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return filepath.Join(keyDir, name)
}

// FreeAddr is a free loopback address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Process is one proofmill child process.
type Process struct {
	Cmd    *exec.Cmd
	Exited chan struct{} // closed when the process has exited; then Err is set
	Err    error
	logs   *Buffer
}

// Logs is everything the process wrote so far.
func (p *Process) Logs() string { return p.logs.String() }

// Count counts a string in the logs.
func (p *Process) Count(s string) int { return strings.Count(p.Logs(), s) }

// Start runs proofmill with args; it is killed when the test ends, and its
// logs are shown if the test failed.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartCmd(t, name, nil, args...)
}

// StartCmd is Start with edit applied to the command before it starts:
// its environment, its working directory.
func StartCmd(t testing.TB, name string, edit func(*exec.Cmd), args ...string) *Process {
	t.Helper()
	p := &Process{logs: &Buffer{}, Exited: make(chan struct{})}
	p.Cmd = exec.Command(Binary(t), args...)
	p.Cmd.Stderr, p.Cmd.Stdout = p.logs, p.logs
	if edit != nil {
		edit(p.Cmd)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Err = p.Cmd.Wait(); close(p.Exited) }()
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.Exited
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.Logs())
		}
	})
	return p
}

// WaitForLog waits up to a minute for s in the logs, failing if the
// process exits first.
func (p *Process) WaitForLog(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.Logs(), s) {
		select {
		case <-p.Exited:
			t.Fatalf("exited before logging %q: %v\n%s", s, p.Err, p.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in a minute:\n%s", s, p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dial connects to a server process and waits until it answers.
func Dial(t testing.TB, p *Process, addr string) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, client.Options{Retries: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := c.Devices(ctx); err != nil {
		t.Fatalf("server did not come up: %v\n%s", err, p.Logs())
	}
	return c
}

// Buffer collects what several goroutines write.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
