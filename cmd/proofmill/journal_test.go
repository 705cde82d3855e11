package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

// journal check: 0 on a sound journal; 1 naming the job whose record was
// changed; 7 naming this process while it holds the journal.
func TestJournalCheck(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := proofmill(t, "journal", "check", "--data", data); code != errcode.Usage.Entry().Exit || !strings.Contains(stderr, "no journal") {
		t.Fatalf("no journal: exit %d\n%s", code, stderr)
	}
	path := node.JournalPath(data)
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		j := &scheduler.Job{ID: fmt.Sprintf("job-%d", i), State: scheduler.Succeeded, Error: fmt.Sprintf("marker-%d-12345", i)}
		if _, _, err := s.Create(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := proofmill(t, "journal", "check", "--data", data)
	if code != errcode.Unavailable.Entry().Exit || !strings.Contains(stderr, "in use by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("while held: exit %d\n%s", code, stderr)
	}
	s.Close()

	code, stdout, stderr := proofmill(t, "journal", "check", "--data", data)
	if code != 0 || !strings.Contains(stdout, "3 with a matching checksum") || !strings.Contains(stdout, "sound: nothing to do") {
		t.Fatalf("sound journal: exit %d\n%s%s", code, stdout, stderr)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, bytes.Replace(raw, []byte("marker-1-12345"), []byte("marker-1-12346"), -1), 0o600)
	code, stdout, stderr = proofmill(t, "journal", "check", "--data-dir", data)
	if code != errcode.CorruptRecord.Entry().Exit || !strings.Contains(stdout, "job job-1: checksum mismatch") ||
		!strings.Contains(stdout, "2 with a matching checksum") || !strings.Contains(stderr, "restore") {
		t.Fatalf("a changed record: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("proofmill journal check on a changed record:\n%s%s", stdout, stderr)

	os.Truncate(path, 0)
	code, _, stderr = proofmill(t, "journal", "check", "--data", data)
	if code != errcode.CorruptRecord.Entry().Exit || !strings.Contains(stderr, "is empty") || !strings.Contains(stderr, "To start afresh") {
		t.Fatalf("an emptied journal: exit %d\n%s", code, stderr)
	}
}
