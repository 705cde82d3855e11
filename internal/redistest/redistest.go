// Package redistest runs a real redis-server for tests, on a free loopback
// port, with its data in the test's temporary folder.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is one redis-server process.
type Server struct {
	Addr     string // 127.0.0.1:port
	dir      string
	extra    []string
	sentinel string // for a Sentinel: what it monitors, "name host:port"
	cmd      *exec.Cmd
	t        testing.TB
}

// Start starts redis-server with append-only persistence (fsync on every
// write, as proofmill's docs advise) and noeviction. The test fails, and
// does not skip, if redis-server is missing: .ci/run installs it.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith starts redis-server as Start does, with extra config args
// after the defaults, which they override: "--appendonly", "no" for a
// Redis without persistence, "--replicaof", "127.0.0.1", port for a
// replica. Restart passes them again.
func StartWith(t testing.TB, extra ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (apt-get install -y redis-server; .ci/run does this): %v", err)
	}
	s := &Server{Addr: freeAddr(t), dir: t.TempDir(), extra: extra, t: t}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// StartSentinel starts a Sentinel that monitors master under name, with
// quorum 1 and a master counted down after 1 s without answers.
func StartSentinel(t testing.TB, name string, master *Server) *Server {
	t.Helper()
	s := &Server{Addr: freeAddr(t), dir: t.TempDir(), sentinel: name + " 127.0.0.1 " + master.Port(), t: t}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Restart starts the server again (after Stop) on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	port, readyLine := s.Port(), "Ready to accept connections"
	args := append([]string{
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--maxmemory-policy", "noeviction", "--protected-mode", "yes"}, s.extra...)
	if s.sentinel != "" { // Sentinel rewrites its config file: it must have one
		name, _, _ := strings.Cut(s.sentinel, " ")
		conf := filepath.Join(s.dir, "sentinel.conf")
		if _, err := os.Stat(conf); err != nil {
			text := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 1\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 10000\n",
				port, s.dir, s.sentinel, name, name)
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				s.t.Fatal(err)
			}
		}
		args, readyLine = []string{conf, "--sentinel"}, "+monitor master"
	}
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var last string
		for sc.Scan() {
			last = sc.Text()
			if strings.Contains(last, readyLine) {
				ready <- nil
				for sc.Scan() { // keep the pipe drained
				}
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited: %s", last)
	}()
	select {
	case err := <-ready:
		if err != nil {
			s.t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		s.t.Fatal("redis-server did not start within 10s")
	}
}

// Dir is the server's working folder: its AOF (appendonlydir) and RDB.
func (s *Server) Dir() string { return s.dir }

// Port is the server's port, as redis-server's arguments take it.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

// Kill stops the server at once (SIGKILL): what it had not written to
// disk is lost, and without persistence everything is.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Stop stops the server (SIGINT: it finishes writing its append-only
// file). A replica refuses while it writes its first append-only file
// after a sync ("Writing initial AOF, can't exit"): ask again until it
// goes, for up to 10 s, then kill it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	ask := time.NewTicker(200 * time.Millisecond)
	defer ask.Stop()
	deadline := time.After(10 * time.Second)
	for stopped := false; !stopped; {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
			stopped = true
		case <-ask.C:
		case <-deadline:
			s.cmd.Process.Kill()
			<-done
			stopped = true
		}
	}
	s.cmd = nil
}
