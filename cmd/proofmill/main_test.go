package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
)

// proofmill runs the command in-process and returns its exit code and output.
func proofmill(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func exampleInput(t *testing.T) string {
	data, err := os.ReadFile("../../examples/invoice-consistency.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestProveThenVerify(t *testing.T) {
	keys := testkeys.Dir()
	proof := filepath.Join(t.TempDir(), "proof.json")
	for _, id := range []string{"invoice-consistency/v1", "abs-pool-16/v1"} {
		in := "../../examples/invoice-consistency.json"
		if strings.HasPrefix(id, "abs-pool") {
			in = "../../examples/abs-pool.json"
		}
		if code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", id, "--input", in, "--out", proof); code != exitOK {
			t.Fatalf("prove %s: exit %d: %s", id, code, stderr)
		}
		code, stdout, stderr := proofmill(t, "verify", "--keys", keys, "--circuit", id, "--proof", proof)
		if code != exitOK || !strings.Contains(stdout, "OK: valid proof for "+id) {
			t.Fatalf("verify %s: exit %d: %s%s", id, code, stdout, stderr)
		}
	}
	// The last proof is for abs-pool-16; asking for another circuit fails.
	if code, _, stderr := proofmill(t, "verify", "--keys", keys, "--circuit", "invoice-consistency/v1", "--proof", proof); code != exitUnsatisfied {
		t.Fatalf("verify against the wrong circuit: exit %d: %s", code, stderr)
	}
}

// Each kind of bad input has its own exit code and a message naming the
// field or rule.
func TestProveErrors(t *testing.T) {
	good := exampleInput(t)
	cases := []struct {
		name    string
		args    []string
		input   string
		code    int
		mention string
	}{
		{"malformed JSON", nil, `{"invoice": `, exitBadInput, "malformed JSON"},
		{"unknown field", nil, strings.Replace(good, `"seller"`, `"sellr"`, 1), exitBadInput, `sellr: unknown field`},
		{"missing field", nil, strings.Replace(good, `"goods_code": "8517620000",`, ``, 1), exitBadInput, "invoice.goods_code: missing field"},
		{"out of range", nil, strings.Replace(good, `"quantity": 1200,`, `"quantity": 18446744073709551616,`, 1), exitBadInput, "invoice.quantity: out of range"},
		{"negative", nil, strings.Replace(good, `"amount": "2820000"`, `"amount": "-1"`, 1), exitBadInput, "invoice.amount: out of range"},
		{"unsatisfied", nil, strings.Replace(good, `"ship_date": "2026-03-09"`, `"ship_date": "2026-05-09"`, 1), exitUnsatisfied, "rule ship-window: ship date 2026-05-09 is 68 days after"},
		{"unknown circuit", []string{"--circuit", "invoice/v9"}, good, exitUnknown, `unknown circuit "invoice/v9"`},
		{"no circuit", []string{"--circuit", ""}, good, exitUsage, "--circuit is required"},
		{"no keys and no dev setup", []string{"--keys", "EMPTY", "--no-dev-setup", "true"}, good, exitNoKeys, "keys setup --circuit invoice-consistency/v1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"prove", "--keys", testkeys.Dir(), "--circuit", "invoice-consistency/v1", "--input", writeFile(t, "in.json", c.input)}
			for i := 0; i < len(c.args); i += 2 {
				val := c.args[i+1]
				if val == "EMPTY" {
					val = t.TempDir()
				}
				args = append(args, c.args[i]+"="+val) // later flags win
			}
			code, _, stderr := proofmill(t, args...)
			if code != c.code || !strings.Contains(stderr, c.mention) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, c.code, c.mention)
			}
		})
	}
}

func TestVerifyRejectsTamperedProof(t *testing.T) {
	keys := testkeys.Dir()
	proof := filepath.Join(t.TempDir(), "proof.json")
	if code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", "invoice-consistency/v1", "--input", "../../examples/invoice-consistency.json", "--out", proof); code != exitOK {
		t.Fatal(stderr)
	}
	data, _ := os.ReadFile(proof)
	cases := []struct {
		name, from, to string
		code           int
	}{
		{"ship window widened", `"30"`, `"31"`, exitBadInput},                           // public_inputs disagree with signals
		{"malformed", `"circuit"`, `"circuit`, exitBadInput},                            // broken JSON
		{"other circuit", `"invoice-consistency/v1"`, `"abs-pool-16/v1"`, exitBadInput}, // signal count
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tampered := strings.Replace(string(data), c.from, c.to, 1)
			if tampered == string(data) {
				t.Fatal("nothing replaced")
			}
			if code, _, stderr := proofmill(t, "verify", "--keys", keys, "--proof", writeFile(t, "p.json", tampered)); code != c.code {
				t.Fatalf("exit %d (%s), want %d", code, stderr, c.code)
			}
		})
	}
	// Both the named value and the signal changed: well-formed, but false.
	both := strings.ReplaceAll(string(data), `"30"`, `"31"`)
	if code, _, stderr := proofmill(t, "verify", "--keys", keys, "--proof", writeFile(t, "p.json", both)); code != exitUnsatisfied || !strings.Contains(stderr, "proof failed verification") {
		t.Fatalf("exit %d (%s), want %d", code, stderr, exitUnsatisfied)
	}
}

func TestKeysExport(t *testing.T) {
	keys := testkeys.Dir()
	// Make sure the keys exist.
	if code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", "invoice-consistency/v1", "--input", "../../examples/invoice-consistency.json", "--out", filepath.Join(t.TempDir(), "p")); code != exitOK {
		t.Fatal(stderr)
	}
	for _, c := range []struct{ format, mention string }{
		{"json", `"curve": "bn128"`},
		{"solidity", "pragma solidity"},
		{"gnark", ""},
	} {
		code, stdout, stderr := proofmill(t, "keys", "export", "--keys", keys, "--circuit", "invoice-consistency/v1", "--format", c.format)
		if code != exitOK || len(stdout) < 100 || !strings.Contains(stdout, c.mention) {
			t.Fatalf("%s: exit %d, %d bytes, stderr %s", c.format, code, len(stdout), stderr)
		}
	}
	if code, _, _ := proofmill(t, "keys", "export", "--keys", keys, "--circuit", "invoice-consistency/v1", "--format", "pdf"); code != exitUsage {
		t.Fatalf("unknown format: exit %d", code)
	}
}

func TestKeysSetupSkipsExistingKeys(t *testing.T) {
	keys := testkeys.Dir()
	proofmill(t, "prove", "--keys", keys, "--circuit", "invoice-consistency/v1", "--input", "../../examples/invoice-consistency.json", "--out", filepath.Join(t.TempDir(), "p"))
	code, stdout, _ := proofmill(t, "keys", "setup", "--keys", keys, "--circuit", "invoice-consistency/v1")
	if code != exitOK || !strings.Contains(stdout, "already in") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	fresh := t.TempDir()
	code, stdout, _ = proofmill(t, "keys", "setup", "--keys", fresh, "--circuit", "invoice-consistency/v1")
	if code != exitOK || !strings.Contains(stdout, "invoice-consistency/v1: "+constraints(t, "invoice-consistency/v1")+" constraints, development keys saved") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"keys"}, {"keys", "rotate"}, {"prove", "--bogus"}, {"verify"}} {
		if code, _, _ := proofmill(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, stderr := proofmill(t, "prove", "-h"); code != exitOK || !strings.Contains(stderr, "-circuit") {
		t.Errorf("help: exit %d: %s", code, stderr)
	}
}

func TestCircuitsListsEveryCircuit(t *testing.T) {
	code, stdout, _ := proofmill(t, "circuits", "--keys", testkeys.Dir())
	if code != exitOK {
		t.Fatal(code)
	}
	for _, want := range []string{"abs-pool-1024/v1", "shipment_nullifier", "invoice-consistency/v1  " + constraints(t, "invoice-consistency/v1")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("listing lacks %q:\n%s", want, stdout)
		}
	}
}

func constraints(t *testing.T, id string) string {
	t.Helper()
	c, err := circuits.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	ccs, err := prover.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(ccs.GetNbConstraints())
}
