package embedded_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

// smallDisk mounts a tmpfs of size bytes for the test, and unmounts it
// when the test ends. It skips where mounting is not permitted.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("SKIPPED: this test needs a small real filesystem, and mounting a tmpfs is not permitted here (%v); run it as root or with CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// A full disk: the write that does not fit is UNAVAILABLE (a client
// retries) and says the journal is out of space, naming its folder; once
// there is room again the same write succeeds, and nothing was lost.
func TestFullDiskIsRetryable(t *testing.T) {
	dir := smallDisk(t, 1<<20)
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "jobs.db")
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var full error
	n := 0
	for ; n < 10_000 && full == nil; n++ {
		_, _, full = s.Create(ctx, testJob(n))
	}
	if full == nil {
		t.Fatal("10 000 jobs fit on a 1 MiB disk")
	}
	n-- // the one that did not fit
	t.Log(full)
	wantCode(t, fmt.Sprintf("job %d on a full disk", n), full, errcode.Unavailable, "out of space", dir)
	if !errcode.Retryable(full) {
		t.Fatalf("%v is not retryable", full)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(ctx, testJob(n)); err != nil {
		t.Fatalf("job %d, with room again: %v", n, err)
	}
	s.Close()
	if s, err = embedded.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n + 1 {
		if _, err := s.Get(ctx, testJob(i).ID); err != nil {
			t.Fatalf("after the full disk: %v", err)
		}
	}
}

// A second process opening a journal in use is told which process holds
// it, and what to do.
func TestJournalInUseNamesItsHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	holder := exec.Command(os.Args[0], "-test.run=^TestHoldJournal$")
	holder.Env = append(os.Environ(), "EMBEDDED_HOLD="+path)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := holder.StdinPipe() // closing it lets the holder go
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); holder.Wait() }()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "holding ") {
		t.Fatalf("the holder did not open the journal: %q", lines.Text())
	}
	s, err := embedded.OpenWith(path, embedded.Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("a journal in use opened twice")
	}
	t.Log(err)
	wantCode(t, "second open", err, errcode.Unavailable, path, "in use", "pid "+strconv.Itoa(holder.Process.Pid), "--data")
}

// TestHoldJournal is the holder's side of TestJournalInUseNamesItsHolder:
// it holds the journal until its stdin closes.
func TestHoldJournal(t *testing.T) {
	path := os.Getenv("EMBEDDED_HOLD")
	if path == "" {
		t.Skip("run by TestJournalInUseNamesItsHolder")
	}
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fmt.Println("holding", path)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
}
