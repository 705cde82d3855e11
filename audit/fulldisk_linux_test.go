package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A line cut short by a full disk is cut off: once there is room again,
// the next line follows the last whole one and the chain verifies. Before,
// the partial line stayed and broke the chain for every line after it.
func TestFullDiskLeavesNoPartialLine(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		t.Skipf("SKIPPED: this test needs a small real filesystem, and mounting a tmpfs is not permitted here (%v)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(Record{Event: "submitted", Job: "j-0"}); err != nil {
		t.Fatal(err)
	}
	// Fill the rest of the disk: the log's last page keeps its slack, so a
	// line longer than a page is written in part.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(bytes.Repeat([]byte{'x'}, 512)); err != nil {
			break
		}
	}
	f.Close()
	if err := l.Append(Record{Event: "started", Job: "j-0", Circuit: strings.Repeat("c", 8192)}); err == nil {
		t.Fatal("a line longer than the room left was written")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Record{Event: "succeeded", Job: "j-0"}); err != nil {
		t.Fatal(err)
	}
	if _, n, err := VerifyFile(path); err != nil || n != 2 {
		t.Fatalf("after the disk filled and emptied: %d lines, %v; want 2 lines that chain", n, err)
	}
}
