package audit

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{Event: "submitted", Job: "j1", Tenant: "bank-a", Circuit: "invoice-consistency/v1"},
		{Event: "succeeded", Job: "j1", Tenant: "bank-a", Circuit: "invoice-consistency/v1", VerifyingKeySHA256: "vk", PublicInputsSHA256: "pi", Backend: "cpu", Attempts: 1},
	} {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	// A second process cannot open it meanwhile: its lines would fork the chain.
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second writer: %v", err)
	}
	l.Close()

	// Reopening continues the chain.
	if l, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Record{Event: "cancelled", Job: "j2", Tenant: "bank-b", Circuit: "c", ErrorKind: "cancelled"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got := lines(t, path)
	if len(got) != 3 {
		t.Fatalf("%d lines", len(got))
	}
	var rec Record
	json.Unmarshal([]byte(got[1]), &rec)
	if rec.Event != "succeeded" || rec.Tenant != "bank-a" || rec.VerifyingKeySHA256 != "vk" || rec.PublicInputsSHA256 != "pi" || rec.Time.IsZero() {
		t.Fatalf("record %+v", rec)
	}
	if _, n, err := Verify(strings.NewReader(strings.Join(got, "\n") + "\n")); err != nil || n != 3 {
		t.Fatalf("intact log: %d lines, %v", n, err)
	}

	for name, edit := range map[string]func([]string) []string{
		"edited":   func(l []string) []string { l[0] = strings.Replace(l[0], "bank-a", "bank-c", 1); return l },
		"deleted":  func(l []string) []string { return append(l[:1:1], l[2:]...) },
		"swapped":  func(l []string) []string { l[1], l[2] = l[2], l[1]; return l },
		"inserted": func(l []string) []string { return append([]string{l[2]}, l...) },
	} {
		bad := edit(append([]string(nil), got...))
		if _, _, err := Verify(strings.NewReader(strings.Join(bad, "\n") + "\n")); !errors.Is(err, ErrChain) {
			t.Errorf("%s line: %v", name, err)
		}
	}
	// A changed line before the last one: the next line's hash gives it away.
	os.WriteFile(path, []byte(strings.Replace(strings.Join(got, "\n")+"\n", "bank-a", "bank-x", 1)), 0o600)
	if _, err := Open(path); !errors.Is(err, ErrChain) {
		t.Fatalf("opened a tampered log: %v", err)
	}
}
