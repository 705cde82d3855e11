package server

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/scheduler"
)

func auditLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestAuditChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	job := &scheduler.Job{ID: "j1", Tenant: "bank-a", Circuit: "invoice-consistency/v1", State: scheduler.Queued}
	if err := a.Submitted(job); err != nil {
		t.Fatal(err)
	}
	proof, _ := json.Marshal(prover.ProofFile{Circuit: job.Circuit, VerifyingKeySHA256: "vk", PublicInputs: []prover.NamedValue{{Name: "n", Value: "7"}}})
	job.State, job.Backend, job.Result, job.Attempts = scheduler.Succeeded, "cpu", proof, 1
	if err := a.Finished(job); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// Reopening continues the chain.
	a, err = OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Finished(&scheduler.Job{ID: "j2", Tenant: "bank-b", Circuit: "c", State: scheduler.Cancelled, ErrorKind: scheduler.KindCancelled}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	lines := auditLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var rec AuditRecord
	json.Unmarshal([]byte(lines[1]), &rec)
	if rec.Event != "succeeded" || rec.Tenant != "bank-a" || rec.VerifyingKeySHA256 != "vk" || rec.PublicInputsSHA256 == "" || rec.Backend != "cpu" {
		t.Fatalf("record %+v", rec)
	}
	if strings.Contains(lines[1], `"7"`) {
		t.Fatal("a public input's value is in the log; only its hash belongs there")
	}
	if _, n, err := VerifyAuditLog(strings.NewReader(strings.Join(lines, "\n") + "\n")); err != nil || n != 3 {
		t.Fatalf("intact log: %d lines, %v", n, err)
	}

	for name, edit := range map[string]func([]string) []string{
		"edited":   func(l []string) []string { l[0] = strings.Replace(l[0], "bank-a", "bank-c", 1); return l },
		"deleted":  func(l []string) []string { return append(l[:1:1], l[2:]...) },
		"swapped":  func(l []string) []string { l[1], l[2] = l[2], l[1]; return l },
		"inserted": func(l []string) []string { return append([]string{l[2]}, l...) },
	} {
		bad := edit(append([]string(nil), lines...))
		if _, _, err := VerifyAuditLog(strings.NewReader(strings.Join(bad, "\n") + "\n")); !errors.Is(err, ErrAuditChain) {
			t.Errorf("%s line: %v", name, err)
		}
	}
	// A changed line before the last one: the next line's hash gives it away.
	os.WriteFile(path, []byte(strings.Replace(strings.Join(lines, "\n")+"\n", "bank-a", "bank-x", 1)), 0o600)
	if _, err := OpenAudit(path); !errors.Is(err, ErrAuditChain) {
		t.Fatalf("opened a tampered log: %v", err)
	}
}
