package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/internal/leaktest"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/tenants"
)

// TestBankWorkerKeepsDocumentsOnItsMachine is the data-residency
// deployment: a shared server on Redis, and bank-a's own worker holding
// bank-a's input key (and no master key). `prove --server --seal` round
// trips; the server process, given only the key's public half, never
// holds the plaintext: the documents' markers appear in none of what
// reached Redis (every command, as MONITOR saw it, the AOF), nor in the
// server's logs, audit log or data folder. Plain input from bank-a is
// refused, and a shared worker never takes bank-a's jobs.
func TestBankWorkerKeepsDocumentsOnItsMachine(t *testing.T) {
	redis := redistest.Start(t)
	var monitor proctest.Buffer
	mon := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", redis.Port(), "monitor")
	mon.Stdout = &monitor
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Process.Kill(); mon.Wait() })

	dir := t.TempDir()
	bankKey := filepath.Join(dir, "bank-a.input")
	if code, _, stderr := proofmill(t, "keys", "input-key", "new", "--out", bankKey); code != 0 {
		t.Fatalf("keys input-key new: %s", stderr)
	}
	table := filepath.Join(dir, "tenants.json")
	os.WriteFile(table, []byte(fmt.Sprintf(`{"tenants": [
		{"id": "bank-a", "tokens_sha256": [%q], "input_key": "bank-a.input.pub"},
		{"id": "bank-b", "tokens_sha256": [%q]}]}`, tenants.Digest("token-a"), tenants.Digest("token-b"))), 0o600)

	addr, serverData := proctest.FreeAddr(t), t.TempDir()
	server := proctest.Start(t, "server", append([]string{"serve", "--redis", redis.Addr, "--listen", addr, "--metrics", "",
		"--data", serverData, "--keys", testkeys.Dir(), "--preload", "invoice-consistency/v1", "--dev-setup=false", "--tenants", table},
		proctest.ServiceKeyFlags(t)...)...)
	server.WaitForLog(t, "serve ready")
	// A shared worker: it must leave bank-a's queue alone.
	shared := proctest.Start(t, "shared worker", append([]string{"worker", "--redis", redis.Addr, "--keys", testkeys.Dir(), "--workers", "1",
		"--preload", "invoice-consistency/v1", "--tenants", table}, proctest.ServiceKeyFlags(t)...)...)
	bank := proctest.Start(t, "bank-a worker", "worker", "--redis", redis.Addr, "--keys", testkeys.Dir(), "--workers", "1",
		"--preload", "invoice-consistency/v1", "--tenants", table, "--tenant", "bank-a", "--input-key", bankKey,
		"--receipt-key", proctest.ServiceKey(t))
	bank.WaitForLog(t, "worker ready")
	shared.WaitForLog(t, "worker ready")

	number := leaktest.NewMarker("invoice number", "73190044288153")
	salt := leaktest.NewMarker("invoice salt", "4242424242424242424242424242424242424242424242424242424242424242424242424243")
	d := testinput.Example(t, "invoice-consistency.json")
	d.Set("invoice.number", number.Decimal)
	d.Set("invoice.salt", salt.Decimal)
	in := writeFile(t, "marked.json", d.JSON())
	markers := []*leaktest.Marker{number, salt}

	remote := []string{"--server", addr, "--token", "token-a", "--circuit", "invoice-consistency/v1", "--input", in}
	if code, _, stderr := proofmill(t, append([]string{"submit"}, remote...)...); code != 3 || !strings.Contains(stderr, "seal the input") {
		t.Fatalf("bank-a's plain input: exit %d, %s; want 3, saying to seal it", code, stderr)
	}
	code, stdout, stderr := proofmill(t, append([]string{"prove", "--seal", "--out", filepath.Join(dir, "proof.json")}, remote...)...)
	if code != 0 {
		t.Fatalf("prove --seal: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := proofmill(t, "verify", "--keys", testkeys.Dir(), "--circuit", "invoice-consistency/v1", "--proof", filepath.Join(dir, "proof.json")); code != 0 {
		t.Fatalf("verify the sealed job's proof: %s", stderr)
	}
	code, stdout, stderr = proofmill(t, append([]string{"submit", "--seal", "--key", "order-7"}, remote...)...)
	id := jobID(t, stdout)
	if code != 0 || id == "" {
		t.Fatalf("submit --seal: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := proofmill(t, "wait", "--server", addr, "--token", "token-a", "--id", id, "--out", filepath.Join(dir, "submitted.json")); code != 0 {
		t.Fatalf("wait for the sealed submission: exit %d: %s", code, stderr)
	}
	if code, _, stderr := proofmill(t, "status", "--server", addr, "--token", "token-b", "--id", id); code != 8 {
		t.Fatalf("bank-b reads bank-a's sealed job: exit %d: %s", code, stderr)
	}
	if bank.Count("proved") != 2 || shared.Count("proved") != 0 {
		t.Fatalf("proved by bank-a's worker %d times, by the shared worker %d times; want 2 and 0", bank.Count("proved"), shared.Count("proved"))
	}
	if strings.Contains(server.Logs(), "input key") && strings.Contains(server.Logs(), bankKey) {
		t.Fatal("the server was given bank-a's private input key")
	}

	sources := []leaktest.Source{{Name: "Redis MONITOR (every command the server and workers sent)", Data: []byte(monitor.String())},
		{Name: "the server's logs", Data: []byte(server.Logs())}, {Name: "the shared worker's logs", Data: []byte(shared.Logs())}}
	sources = append(sources, leaktest.Files(t, filepath.Join(redis.Dir(), "appendonlydir"))...)
	sources = append(sources, leaktest.Files(t, serverData)...)
	if found := leaktest.Found(markers, sources); len(found) > 0 {
		t.Fatalf("bank-a's documents reached the shared side: %s", strings.Join(found, "; "))
	}
	if !strings.Contains(monitor.String(), "HSET") {
		t.Fatalf("MONITOR saw no writes: the search is blind\n%.2000s", monitor.String())
	}
}

// jobID is the id of the job a command printed (protojson).
func jobID(t *testing.T, stdout string) string {
	t.Helper()
	var j struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("not a job: %v: %s", err, stdout)
	}
	return j.ID
}
