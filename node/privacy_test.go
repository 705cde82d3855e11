package node_test

import (
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/leaktest"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
)

// markedInvoice is the example invoice with an unusual invoice number and
// salt: values that appear nowhere else.
func markedInvoice(t testing.TB) (string, []*leaktest.Marker) {
	number := leaktest.NewMarker("invoice number", "73190044288153")
	salt := leaktest.NewMarker("invoice salt", "4242424242424242424242424242424242424242424242424242424242424242424242424243")
	d := testinput.Example(t, "invoice-consistency.json")
	d.Set("invoice.number", number.Decimal)
	d.Set("invoice.salt", salt.Decimal)
	return d.JSON(), []*leaktest.Marker{number, salt}
}

// TestDocumentsAreNotKeptInTheClear submits a statement whose invoice
// number and salt are markers and looks for them, in every form a witness
// takes, wherever the service keeps or says anything: the journal, Redis's
// RDB dump and AOF, the logs and the audit log; while the job waits, and
// after it ended. The control, with encryption at rest off, shows that the
// search finds a stored witness.
func TestDocumentsAreNotKeptInTheClear(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		for _, plain := range []bool{true, false} {
			name := backend + "/encrypted"
			if plain {
				name = backend + "/control-in-the-clear"
			}
			t.Run(name, func(t *testing.T) { checkDocumentsAtRest(t, backend, plain) })
		}
	}
}

func checkDocumentsAtRest(t *testing.T, backend string, plain bool) {
	inputJSON, markers := markedInvoice(t)
	var logs proctest.Buffer
	var redis *redistest.Server
	dataDir := t.TempDir()
	n := testnode.Start(t, func(c *node.Config) {
		c.DataDir, c.Audit = dataDir, filepath.Join(dataDir, "audit.log")
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if backend == "redis" {
			redis = redistest.Start(t)
			c.Redis = redis.Addr
		}
		if plain {
			node.PlainInputsAtRest(c)
		}
		node.HoldWorkers(c)
	})
	cl, err := client.Dial(n.Addr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := timeout(t, 2*time.Minute)
	job, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: inputJSON})
	if err != nil {
		t.Fatal(err)
	}
	atRest := func() []leaktest.Source {
		var sources []leaktest.Source
		if redis == nil {
			return leaktest.Files(t, node.JournalPath(dataDir))
		}
		rdb := filepath.Join(t.TempDir(), "dump.rdb")
		if out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", redis.Port(), "--rdb", rdb).CombinedOutput(); err != nil {
			t.Fatalf("redis-cli --rdb: %v: %s", err, out)
		}
		sources = append(sources, leaktest.Files(t, rdb)...)
		return append(sources, leaktest.Files(t, filepath.Join(redis.Dir(), "appendonlydir"))...)
	}
	queued := leaktest.Found(markers, atRest())
	switch {
	case plain && len(queued) == 0:
		t.Fatal("control: a witness stored in the clear, and the search did not find it: the search is blind")
	case !plain && len(queued) > 0:
		t.Fatalf("documents at rest while the job waits: %s", strings.Join(queued, "; "))
	}
	if err := n.StartWorkers(); err != nil {
		t.Fatal(err)
	}
	done, err := cl.Wait(ctx, job.GetId())
	if err != nil || done.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job: %v, %v", done, err)
	}
	if plain {
		return
	}
	if err := n.Shutdown(ctx); err != nil { // flush and close every file
		t.Fatal(err)
	}
	sources := append(atRest(), leaktest.Source{Name: "the logs", Data: []byte(logs.String())})
	sources = append(sources, leaktest.Files(t, filepath.Join(dataDir, "audit.log"))...)
	if found := leaktest.Found(markers, sources); len(found) > 0 {
		t.Fatalf("documents kept after the job ended: %s", strings.Join(found, "; "))
	}
	if !strings.Contains(logs.String(), "proved") {
		t.Fatalf("the logs the test searched are not the node's:\n%s", logs.String())
	}
}
