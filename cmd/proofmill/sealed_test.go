package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/internal/testinput"
)

// keys input-key new writes the private key for workers and its public
// half, and prints the id both have; it replaces neither.
func TestInputKeyNew(t *testing.T) {
	out := filepath.Join(t.TempDir(), "keys", "input.key")
	code, stdout, stderr := proofmill(t, "keys", "input-key", "new", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pubFile, err := os.ReadFile(out + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sealed.ParsePublicKey(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	private, err := sealed.LoadKey(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, "key_id: "+pub.ID()+"\n") || private.ID() != pub.ID() {
		t.Fatalf("printed %q; the .pub file's id %s, the private key's %s", stdout, pub.ID(), private.ID())
	}
	if info, err := os.Stat(out); err != nil || (runtime.GOOS != "windows" && info.Mode().Perm() != 0o600) {
		t.Fatalf("private key file: %v %v", info.Mode(), err)
	}
	if code, _, stderr := proofmill(t, "keys", "input-key", "new", "--out", out); code != 6 || !strings.Contains(stderr, "not replaced") {
		t.Fatalf("again over the same file: exit %d: %s", code, stderr)
	}
	if again, err := sealed.LoadKey(out); err != nil || again.ID() != pub.ID() {
		t.Fatalf("the key was replaced: %v", err)
	}
	if code, _, stderr := proofmill(t, "keys", "input-key", "new"); code != 2 || !strings.Contains(stderr, "--out is required") {
		t.Fatalf("no --out: exit %d: %s", code, stderr)
	}
}

// --seal checks the statement here, then seals to the input key the
// server publishes; the server's worker opens it and proves it.
func TestSealFlag(t *testing.T) {
	in := writeFile(t, "in.json", testinput.Invoice(t, 9090))
	late := writeFile(t, "late.json", testinput.Example(t, "invoice-consistency.json").Set("bill_of_lading.ship_date", "2026-05-09").JSON())
	if code, _, stderr := proofmill(t, "prove", "--seal", "--circuit", "invoice-consistency/v1", "--input", in); code != 2 || !strings.Contains(stderr, "--seal needs --server") {
		t.Fatalf("prove --seal without --server: exit %d: %s", code, stderr)
	}
	addr := startNode(t, nil).Addr()
	for _, cmd := range []string{"submit", "prove"} {
		args := []string{cmd, "--server", addr, "--seal", "--circuit", "invoice-consistency/v1"}
		if code, _, stderr := proofmill(t, append(args, "--input", late)...); code != 4 || !strings.Contains(stderr, "rule ship-window") {
			t.Errorf("%s --seal, a false statement: exit %d: %s", cmd, code, stderr)
		}
		code, stdout, stderr := proofmill(t, append(args, "--input", in)...)
		if code != 0 || (cmd == "prove" && !strings.Contains(stdout, `"protocol"`)) || (cmd == "submit" && !strings.Contains(stdout, `"id"`)) {
			t.Errorf("%s --seal: exit %d: %s%s", cmd, code, stdout, stderr)
		}
	}
}
