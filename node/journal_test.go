package node_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/node"
)

// A journal emptied while the server was stopped: the next start refuses,
// saying how to restore and how to start afresh, instead of starting with
// every earlier job gone.
func TestStartRefusesAnEmptiedJournal(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = -1
	n, c := startNode(t, func(c *node.Config) { *c = cfg })
	if _, _, err := c.Submit(timeout(t, time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(node.JournalPath(cfg.DataDir), 0); err != nil {
		t.Fatal(err)
	}
	again, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = again.Start(t.Context())
	if err == nil {
		again.Shutdown(t.Context())
		t.Fatal("started on an emptied journal")
	}
	if errcode.Of(err) != errcode.CorruptRecord || !strings.Contains(err.Error(), "To restore") || !strings.Contains(err.Error(), "To start afresh") {
		t.Fatalf("start: %v (%s)", err, errcode.Of(err))
	}
}

// A stored job changed on disk while the server was stopped (its circuit
// id, the same length): after a restart the server answers DATA_LOSS for
// it, naming the job, instead of serving the changed record.
func TestChangedRecordIsDataLoss(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = -1
	n, c := startNode(t, func(c *node.Config) { *c = cfg })
	j, _, err := c.Submit(timeout(t, time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	n.Shutdown(t.Context())
	path := node.JournalPath(cfg.DataDir)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, changed := []byte(`"invoice-consistency/v1"`), []byte(`"invoice-consistency/v2"`)
	if !bytes.Contains(raw, old) {
		t.Fatal("the job's circuit is not in the journal")
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, old, changed), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	_, c = startNode(t, func(c *node.Config) { *c = cfg })
	got, err := c.Get(timeout(t, time.Minute), j.GetId())
	if status.Code(err) != codes.DataLoss || !strings.Contains(err.Error(), j.GetId()) {
		t.Fatalf("status of the changed job: %v, %v", got, err)
	}
}

// A full data folder: a submission is UNAVAILABLE (the client library
// retries it) saying what is out of space, not INTERNAL: whether the audit
// log (written first, beside the journal by default) or the journal fills.
func TestFullDiskAnswersUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name        string
		says        []string // what may be out of space: whichever write first finds the disk full
		auditAway   bool
		journalAway bool
	}{
		{"audit log beside the journal", []string{"the audit log is out of space", "the journal is out of space"}, false, false},
		{"audit log elsewhere", []string{"the journal is out of space"}, true, false},
		{"journal elsewhere", []string{"the audit log is out of space"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
				t.Skipf("SKIPPED: this test needs a small real filesystem, and mounting a tmpfs is not permitted here (%v); run it as root or with CAP_SYS_ADMIN", err)
			}
			t.Cleanup(func() {
				if err := syscall.Unmount(dir, 0); err != nil {
					t.Errorf("unmount %s: %v", dir, err)
				}
			})
			audit, data := "", filepath.Join(dir, "data")
			if tc.auditAway {
				audit = filepath.Join(t.TempDir(), "audit.log")
			}
			if tc.journalAway {
				audit, data = filepath.Join(dir, "audit.log"), t.TempDir()
			}
			n, _ := startNode(t, func(c *node.Config) { c.DataDir, c.Audit, c.Workers = data, audit, -1 })
			t.Cleanup(func() { n.Shutdown(t.Context()) }) // before the unmount
			c, err := client.Dial(n.Addr(), client.Options{Retries: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := timeout(t, 2*time.Minute)
			for i := range 5000 {
				if _, _, err = c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, i)}); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("5000 jobs fit in 1 MiB")
			}
			t.Log(err)
			says := slices.ContainsFunc(tc.says, func(s string) bool { return strings.Contains(err.Error(), s) })
			if status.Code(err) != codes.Unavailable || errcode.Of(err) != errcode.Unavailable || !says {
				t.Fatalf("a submission on a full disk: %v (%s, %s), want UNAVAILABLE saying one of %q", err, status.Code(err), errcode.Of(err), tc.says)
			}
		})
	}
}

// A second serve on the same data folder says which process holds it,
// and exits with the busy status.
func TestSecondServeNamesTheHolder(t *testing.T) {
	data := t.TempDir()
	first, _ := startServe(t, data, proctest.FreeAddr(t))
	second := proctest.Start(t, "second server", "serve", "--data", data, "--listen", proctest.FreeAddr(t), "--metrics", "", "--workers", "1", "--preload", "none")
	select {
	case <-second.Exited:
	case <-time.After(time.Minute):
		t.Fatal("the second serve is still running")
	}
	want := fmt.Sprintf("in use by pid %d", first.Cmd.Process.Pid)
	if log := second.Logs(); !strings.Contains(log, want) || !strings.Contains(log, "--data") {
		t.Fatalf("second serve's output does not say %q:\n%s", want, log)
	}
	if code := second.Cmd.ProcessState.ExitCode(); code != errcode.Unavailable.Entry().Exit {
		t.Fatalf("exit %d, want %d", code, errcode.Unavailable.Entry().Exit)
	}
}
