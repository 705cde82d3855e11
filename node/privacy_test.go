package node_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/leaktest"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/tenants"
	"github.com/proofmill/proofmill/vault"
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

// sealedClients starts a node with two tenants and returns a client of
// each.
func sealedClients(t *testing.T, edit func(*node.Config)) (*node.Node, *client.Client, *client.Client) {
	t.Helper()
	table := filepath.Join(t.TempDir(), "tenants.json")
	os.WriteFile(table, []byte(fmt.Sprintf(`{"tenants": [{"id": "bank-a", "tokens_sha256": [%q]}, {"id": "bank-b", "tokens_sha256": [%q]}]}`,
		tenants.Digest("token-a"), tenants.Digest("token-b"))), 0o600)
	n := testnode.Start(t, func(c *node.Config) {
		c.Tenants = table
		if edit != nil {
			edit(c)
		}
	})
	dial := func(token string) *client.Client {
		cl, err := client.Dial(n.Addr(), client.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	return n, dial("token-a"), dial("token-b")
}

// A sealed input that does not open (sealed to another key under the
// published key's id, changed, or replayed by another tenant) fails its job
// with sealed_invalid, saying so; a false sealed statement fails with the
// rule it breaks and none of the documents' values, and only its tenant
// sees it.
func TestSealedInputsRefused(t *testing.T) {
	_, a, b := sealedClients(t, nil)
	ctx := timeout(t, 3*time.Minute)
	const id = "invoice-consistency/v1"
	good, err := a.Seal(ctx, id, []byte(testinput.Invoice(t, 4100)))
	if err != nil {
		t.Fatal(err)
	}
	published, err := a.InputKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	toOther, err := sealed.Seal(other.Public(), "bank-a", id, []byte(testinput.Invoice(t, 4101)))
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(good.GetCiphertext())
	tampered[len(tampered)/2] ^= 1
	late := testinput.Example(t, "invoice-consistency.json").Set("bill_of_lading.ship_date", "2026-05-09").JSON()
	falseStatement, err := a.Seal(ctx, id, []byte(late))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		by         *client.Client
		ciphertext []byte
		kind, says string
	}{
		{"sealed to another key", a, toOther, "sealed_invalid", "does not open"},
		{"tampered", a, tampered, "sealed_invalid", "does not open"},
		{"replayed by another tenant", b, good.GetCiphertext(), "sealed_invalid", "does not open"},
		{"false statement", a, falseStatement.GetCiphertext(), "unsatisfied", "rule ship-window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, _, err := tc.by.Submit(ctx, &pb.SubmitProofRequest{Circuit: id, SealedInput: &pb.SealedInput{KeyId: published.ID(), Ciphertext: tc.ciphertext}})
			if err != nil {
				t.Fatal(err)
			}
			done, err := tc.by.Wait(ctx, job.GetId())
			if err != nil {
				t.Fatal(err)
			}
			if done.GetState() != pb.JobState_JOB_STATE_FAILED || done.GetErrorKind() != tc.kind || !strings.Contains(done.GetError(), tc.says) {
				t.Fatalf("job: %s, %s: %q; want failed, %s, saying %q", done.GetState(), done.GetErrorKind(), done.GetError(), tc.kind, tc.says)
			}
			if strings.Contains(done.GetError(), "2026-05-09") || strings.Contains(done.GetError(), "days") {
				t.Fatalf("the error quotes the sealed documents: %q", done.GetError())
			}
			outsider := a
			if tc.by == a {
				outsider = b
			}
			if _, err := outsider.Get(ctx, job.GetId()); status.Code(err) != codes.NotFound {
				t.Fatalf("another tenant reads the job: %v", err)
			}
		})
	}
}

// Rotating a tenant's data key while jobs wait leaves every one of them
// decryptable: those before on the old version, those after on the new.
func TestDataKeyRotationKeepsQueuedJobs(t *testing.T) {
	dataDir := t.TempDir()
	n, cl := startNode(t, func(c *node.Config) { c.DataDir = dataDir; node.HoldWorkers(c) })
	ctx := timeout(t, 3*time.Minute)
	submit := func(i int) string {
		j, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 4200+i)})
		if err != nil {
			t.Fatal(err)
		}
		return j.GetId()
	}
	ids := []string{submit(0), submit(1)}
	v, closeRing, err := node.DataKeys(ctx, node.Config{DataDir: dataDir, MasterKey: proctest.MasterKey(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer closeRing()
	if k, err := v.Rotate(ctx, ""); err != nil || k.Version != 2 {
		t.Fatalf("rotate: %+v, %v", k, err)
	}
	ids = append(ids, submit(2))
	if err := n.StartWorkers(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if j, err := cl.Wait(ctx, id); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s after the rotation: %v, %v", id, j, err)
		}
	}
	keys, err := v.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("data keys: %+v, %v", keys, err)
	}
}

// A new master key is taken in without re-encrypting a job: restart with
// the new key and the old, re-wrap, restart with the new one alone; the
// jobs queued all along still prove.
func TestMasterKeyRewrap(t *testing.T) {
	dataDir := t.TempDir()
	oldKey := filepath.Join(t.TempDir(), "old.key")
	newKey := filepath.Join(t.TempDir(), "new.key")
	for _, path := range []string{oldKey, newKey} {
		if _, err := vault.WriteMasterKeyFile(path); err != nil {
			t.Fatal(err)
		}
	}
	ctx := timeout(t, 3*time.Minute)
	n, cl := startNode(t, func(c *node.Config) { c.DataDir, c.MasterKey = dataDir, oldKey; c.Workers = -1 })
	j, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 4300)})
	if err != nil {
		t.Fatal(err)
	}
	n.Shutdown(ctx)
	v, closeRing, err := node.DataKeys(ctx, node.Config{DataDir: dataDir, MasterKey: newKey, OldMasterKeys: []string{oldKey}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := v.Rewrap(ctx); err != nil || k != 1 {
		t.Fatalf("rewrap: %d, %v", k, err)
	}
	closeRing()
	_, cl = startNode(t, func(c *node.Config) { c.DataDir, c.MasterKey = dataDir, newKey })
	if done, err := cl.Wait(ctx, j.GetId()); err != nil || done.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("the queued job under the new master key alone: %v, %v", done, err)
	}
}
