package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/tenants"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// proofmill runs the command in-process and returns its exit code and output.
func proofmill(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), &env{stdout: &stdout, stderr: &stderr, log: quiet}, args)
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

const example = "../../examples/invoice-consistency.json"

func exampleInput(t *testing.T) string {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func startNode(t *testing.T, edit func(*node.Config)) *node.Node { return testnode.Start(t, edit) }

func TestProveThenVerify(t *testing.T) {
	keys := testkeys.Dir()
	proof := filepath.Join(t.TempDir(), "proof.json")
	for _, id := range []string{"invoice-consistency/v1", "abs-pool-16/v1"} {
		in := example
		if strings.HasPrefix(id, "abs-pool") {
			in = "../../examples/abs-pool.json"
		}
		if code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", id, "--input", in, "--out", proof); code != 0 {
			t.Fatalf("prove %s: exit %d: %s", id, code, stderr)
		}
		code, stdout, stderr := proofmill(t, "verify", "--keys", keys, "--circuit", id, "--proof", proof)
		if code != 0 || !strings.Contains(stdout, "OK: valid proof for "+id) {
			t.Fatalf("verify %s: exit %d: %s%s", id, code, stdout, stderr)
		}
	}
	// The last proof is for abs-pool-16; asking for another circuit fails.
	if code, _, stderr := proofmill(t, "verify", "--keys", keys, "--circuit", "invoice-consistency/v1", "--proof", proof); code != 4 {
		t.Fatalf("verify against the wrong circuit: exit %d: %s", code, stderr)
	}
}

// Each kind of bad input has its own exit code and a message naming the
// field or rule.
func TestProveErrors(t *testing.T) {
	good := exampleInput(t)
	doc := func() *testinput.Doc { return testinput.Example(t, "invoice-consistency.json") }
	cases := []struct {
		name    string
		args    []string
		input   string
		code    int
		mention string
	}{
		{"malformed JSON", nil, `{"invoice": `, 3, "malformed JSON"},
		{"unknown field", nil, strings.Replace(good, `"seller"`, `"sellr"`, 1), 3, `sellr: unknown field`},
		{"missing field", nil, doc().Delete("invoice.goods_code").JSON(), 3, "invoice.goods_code: missing field"},
		{"out of range", nil, doc().Set("invoice.quantity", json.Number("18446744073709551616")).JSON(), 3, "invoice.quantity: out of range"},
		{"negative", nil, doc().Set("invoice.amount", "-1").JSON(), 3, "invoice.amount: out of range"},
		{"unsatisfied", nil, doc().Set("bill_of_lading.ship_date", "2026-05-09").JSON(), 4, "rule ship-window: ship date 2026-05-09 is 68 days after"},
		{"unknown circuit", []string{"--circuit", "invoice/v9"}, good, 5, `unknown circuit "invoice/v9"`},
		{"no circuit", []string{"--circuit", ""}, good, 2, "--circuit is required"},
		{"no keys and no dev setup", []string{"--keys", "EMPTY", "--no-dev-setup", "true"}, good, 6, "keys setup --circuit invoice-consistency/v1"},
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
	if code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", "invoice-consistency/v1", "--input", example, "--out", proof); code != 0 {
		t.Fatal(stderr)
	}
	data, _ := os.ReadFile(proof)
	cases := []struct {
		name, from, to string
		code           int
	}{
		{"ship window widened", `"30"`, `"31"`, 3},                           // public_inputs disagree with signals
		{"malformed", `"circuit"`, `"circuit`, 3},                            // broken JSON
		{"other circuit", `"invoice-consistency/v1"`, `"abs-pool-16/v1"`, 3}, // signal count
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
	if code, _, stderr := proofmill(t, "verify", "--keys", keys, "--proof", writeFile(t, "p.json", both)); code != 4 || !strings.Contains(stderr, "proof failed verification") {
		t.Fatalf("exit %d (%s), want 4", code, stderr)
	}
}

func TestKeysExport(t *testing.T) {
	keys := testkeys.Dir()
	if code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", "invoice-consistency/v1", "--input", example, "--out", filepath.Join(t.TempDir(), "p")); code != 0 {
		t.Fatal(stderr) // makes sure the keys exist
	}
	for _, c := range []struct{ format, mention string }{
		{"json", `"curve": "bn128"`},
		{"solidity", "pragma solidity"},
		{"gnark", ""},
	} {
		code, stdout, stderr := proofmill(t, "keys", "export", "--keys", keys, "--circuit", "invoice-consistency/v1", "--format", c.format)
		if code != 0 || len(stdout) < 100 || !strings.Contains(stdout, c.mention) {
			t.Fatalf("%s: exit %d, %d bytes, stderr %s", c.format, code, len(stdout), stderr)
		}
	}
	if code, _, _ := proofmill(t, "keys", "export", "--keys", keys, "--circuit", "invoice-consistency/v1", "--format", "pdf"); code != 2 {
		t.Fatalf("unknown format: exit %d", code)
	}
}

func TestKeysSetupSkipsExistingKeys(t *testing.T) {
	keys := testkeys.Dir()
	proofmill(t, "prove", "--keys", keys, "--circuit", "invoice-consistency/v1", "--input", example, "--out", filepath.Join(t.TempDir(), "p"))
	code, stdout, _ := proofmill(t, "keys", "setup", "--keys", keys, "--circuit", "invoice-consistency/v1")
	if code != 0 || !strings.Contains(stdout, "already in") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	code, stdout, _ = proofmill(t, "keys", "setup", "--keys", t.TempDir(), "--circuit", "invoice-consistency/v1")
	if code != 0 || !strings.Contains(stdout, "invoice-consistency/v1: "+constraints(t, "invoice-consistency/v1")+" constraints, development keys saved") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
}

// keys setup --all makes no keys for a circuit above
// circuits.ImplicitKeysLimit (abs-pool-4096): it says so and goes on. The
// store already has a manifest for every other circuit, so nothing here
// runs a setup.
func TestKeysSetupAllSkipsLargeCircuits(t *testing.T) {
	keys := t.TempDir()
	var large []string
	for _, c := range circuits.All() {
		if c.KeysOnlyWhenAsked() {
			large = append(large, c.ID)
			continue
		}
		testkeys.WriteManifest(t, keys, c, c.Constraints)
	}
	if !slices.Contains(large, "abs-pool-4096/v1") {
		t.Fatalf("abs-pool-4096/v1 is not above the implicit-keys limit (%v)", large)
	}
	code, stdout, _ := proofmill(t, "keys", "setup", "--keys", keys, "--all")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	for _, id := range large {
		if !strings.Contains(stdout, id+": skipped") || !strings.Contains(stdout, "--circuit "+id) {
			t.Errorf("%s not reported skipped: %s", id, stdout)
		}
		if _, err := os.Stat(filepath.Join(keys, filepath.FromSlash(id))); !os.IsNotExist(err) {
			t.Errorf("%s: a key folder was made (%v)", id, err)
		}
	}
}

// A local prove of abs-pool-4096 with development setup on (the default)
// does not make its keys: it fails with the no-keys exit code and names
// the command that makes them.
func TestProveLargeCircuitNeedsExplicitKeys(t *testing.T) {
	keys := t.TempDir()
	code, _, stderr := proofmill(t, "prove", "--keys", keys, "--circuit", "abs-pool-4096/v1",
		"--input", "../../examples/abs-pool.json", "--out", filepath.Join(t.TempDir(), "p"))
	if code != 6 || !strings.Contains(stderr, "keys setup --circuit abs-pool-4096/v1") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(keys); len(entries) != 0 {
		t.Fatalf("key store written: %v", entries)
	}
}

// Misuse exits 2 and says what to run instead; unknown commands get
// suggestions.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{nil, "proofmill needs a command"},
		{[]string{"porve"}, "unknown command \"porve\" for \"proofmill\"\n\nDid you mean this?\n\tprove"},
		{[]string{"keys"}, "proofmill keys needs a command"},
		{[]string{"keys", "rotate"}, `unknown command "rotate" for "proofmill keys"`},
		{[]string{"keys", "ceremony", "contribut"}, "Did you mean this?\n\tcontribute"},
		{[]string{"prove", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"prove", "extra"}, `unexpected argument "extra"`},
		{[]string{"verify"}, "--proof is required"},
		{[]string{"status"}, "--id is required"},
		{[]string{"batch", "submit"}, "--in is required"},
		{[]string{"batch", "status"}, "--batch or --in is required"},
		{[]string{"bench", "--profile", "huge"}, `unknown profile "huge"`},
		{[]string{"worker"}, "--redis is required"},
		{[]string{"serve", "--max-streams", "-1"}, "--max-streams -1: must not be negative"},
		{[]string{"serve", "--workers", "two"}, `"two" is not a number of workers`},
		{[]string{"serve", "--workers", "-2"}, `"-2" is not a number of workers`},
		{[]string{"worker", "--redis", "127.0.0.1:1", "--workers", "none"}, "a worker proves at least one job at a time"},
		{[]string{"worker", "--device", "cuda:0", "--stdio", "--trace-stdout"}, "stdout carries the device's protocol"},
		{[]string{"serve", "--trace-stdout=maybe"}, `invalid argument "maybe" for "--trace-stdout"`},
	} {
		code, stdout, stderr := proofmill(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.mention) || !strings.Contains(stderr, "--help' for usage") {
			t.Errorf("%q: exit %d, %q%q; want 2 mentioning %q", tc.args, code, stdout, stderr, tc.mention)
		}
	}
}

// Every command and subcommand has help, and --help exits 0 before any
// check of its flags.
func TestHelpEverywhere(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(sub, append(append([]string(nil), path...), sub.Name()))
			}
		}
	}
	root := newRoot(&env{stdout: io.Discard, stderr: io.Discard, log: quiet})
	root.InitDefaultCompletionCmd()
	walk(root, nil)
	if len(paths) < 30 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		code, stdout, stderr := proofmill(t, append(path, "--help")...)
		if code != 0 || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Errorf("%v --help: exit %d, %q %q", path, code, stdout, stderr)
		}
	}
	code, stdout, _ := proofmill(t, "--version")
	if code != 0 || !regexp.MustCompile(`^proofmill (devel|v)\S* .*go1\.`).MatchString(stdout) {
		t.Errorf("--version: exit %d, %q", code, stdout)
	}
	if code, stdout, _ := proofmill(t, "completion", "bash"); code != 0 || !strings.Contains(stdout, "__start_proofmill") {
		t.Errorf("completion bash: exit %d", code)
	}
}

func TestCircuitsListsEveryCircuit(t *testing.T) {
	code, stdout, _ := proofmill(t, "circuits", "--keys", testkeys.Dir())
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"abs-pool-1024/v1", "shipment_nullifier", "invoice-consistency/v1  " + constraints(t, "invoice-consistency/v1"), "invoice-consistency/v2  " + constraints(t, "invoice-consistency/v2"), "bill_of_lading_nullifier"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("listing lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = proofmill(t, "circuits", "--json", "--keys", testkeys.Dir())
	var rows []struct {
		ID     string            `json:"id"`
		Schema []json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal([]byte(stdout), &rows); code != 0 || err != nil || len(rows) != len(circuits.All()) || len(rows[0].Schema) == 0 {
		t.Fatalf("circuits --json: exit %d, %v: %s", code, err, stdout)
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

// The README's exit-code table is errcode's, and every status in it is
// what the command line does, here made to happen for real.
func TestExitCodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("| exit | meaning |\n|---|---|\n")
	for _, e := range errcode.Exits {
		want.WriteString("| " + strconv.Itoa(e.Status) + " | " + e.Meaning + " |\n")
	}
	if !strings.Contains(string(readme), want.String()) {
		t.Fatalf("the README's exit-code table is not errcode.Exits; it should read:\n%s", want.String())
	}

	table := writeFile(t, "tenants.json", `{"tenants": [{"id": "bank-a", "tokens_sha256": ["`+tenants.Digest("token-a")+`"]}]}`)
	open := startNode(t, nil).Addr()
	full := startNode(t, func(c *node.Config) { c.Workers, c.MaxQueued = -1, 1 }).Addr()
	guarded := startNode(t, func(c *node.Config) { c.Tenants = table }).Addr()
	in := writeFile(t, "in.json", testinput.Invoice(t, 4242))
	prove := func(server string, extra ...string) []string {
		return append([]string{"prove", "--server", server, "--circuit", "invoice-consistency/v1", "--input", in, "--out", filepath.Join(t.TempDir(), "p")}, extra...)
	}
	code, stdout, _ := proofmill(t, "submit", "--server", open, "--circuit", "invoice-consistency/v1", "--input", in)
	var submitted struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &submitted); code != 0 || err != nil {
		t.Fatalf("submit: %d %v", code, err)
	}
	proofmill(t, "wait", "--server", open, "--id", submitted.ID, "--out", filepath.Join(t.TempDir(), "p"))
	proofmill(t, "submit", "--server", full, "--circuit", "invoice-consistency/v1", "--input", writeFile(t, "other.json", testinput.Invoice(t, 4243)))
	cases := map[int][]string{
		0:   {"circuits", "--keys", testkeys.Dir()},
		1:   {"verify", "--proof", filepath.Join(t.TempDir(), "absent.json")},
		2:   {"prove", "--bogus"},
		3:   {"prove", "--circuit", "invoice-consistency/v1", "--input", "../../examples/negative-price.json", "--keys", testkeys.Dir()},
		4:   {"prove", "--circuit", "invoice-consistency/v1", "--input", "../../examples/late-shipment.json", "--keys", testkeys.Dir()},
		5:   {"prove", "--circuit", "invoice-consistency/v9", "--input", in},
		6:   {"prove", "--circuit", "invoice-consistency/v1", "--input", in, "--keys", t.TempDir(), "--no-dev-setup"},
		7:   prove(full),
		8:   {"status", "--server", open, "--id", "no-such-job"},
		9:   {"cancel", "--server", open, "--id", submitted.ID},
		10:  prove(guarded),
		130: {"wait", "--server", full, "--id", "x"},
	}
	for _, e := range errcode.Exits {
		args, ok := cases[e.Status]
		if !ok {
			t.Errorf("exit %d has no case", e.Status)
			continue
		}
		ctx := context.Background()
		if e.Status == 130 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			cancel() // Ctrl-C
		}
		var stdout, stderr bytes.Buffer
		if code := execute(ctx, &env{stdout: &stdout, stderr: &stderr, log: quiet}, args); code != e.Status {
			t.Errorf("%v: exit %d, want %d (%s): %s", args, code, e.Status, e.Meaning, stderr.String())
		}
	}
}

// The README's examples of refusals print what the README shows.
func TestReadmeRefusals(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"late-shipment.json", "negative-price.json"} {
		_, _, stderr := proofmill(t, "prove", "--keys", testkeys.Dir(), "--circuit", "invoice-consistency/v1", "--input", "../../examples/"+file)
		shown := "$ ./proofmill prove --circuit invoice-consistency/v1 --input examples/" + file + "\n" + stderr
		if !strings.Contains(string(readme), shown) {
			t.Errorf("the README does not show:\n%s", shown)
		}
	}
}

// The client commands against a live node: submit, wait, status, cancel and
// prove --server, with the exit codes a script can branch on.
func TestClientCommands(t *testing.T) {
	addr := startNode(t, nil).Addr()
	input := writeFile(t, "in.json", testinput.Invoice(t, 77))
	code, stdout, stderr := proofmill(t, "submit", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", input, "--priority", "batch")
	if code != 0 || !strings.Contains(stdout, "PRIORITY_BATCH") {
		t.Fatalf("submit: exit %d: %s%s", code, stdout, stderr)
	}
	var submitted struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &submitted); err != nil || submitted.ID == "" {
		t.Fatalf("submit printed no job: %v: %s", err, stdout)
	}
	id := submitted.ID
	proof := filepath.Join(t.TempDir(), "proof.json")
	if code, _, stderr := proofmill(t, "wait", "--server", addr, "--id", id, "--out", proof); code != 0 {
		t.Fatalf("wait: exit %d: %s", code, stderr)
	}
	if code, stdout, _ := proofmill(t, "verify", "--keys", testkeys.Dir(), "--proof", proof); code != 0 || !strings.Contains(stdout, "OK") {
		t.Fatalf("verify the served proof: exit %d", code)
	}
	if code, stdout, _ := proofmill(t, "status", "--server", addr, "--id", id); code != 0 || !strings.Contains(stdout, "JOB_STATE_SUCCEEDED") {
		t.Fatalf("status: exit %d: %s", code, stdout)
	}
	if code, _, stderr := proofmill(t, "cancel", "--server", addr, "--id", id); code != 9 || !strings.Contains(stderr, "already finished") {
		t.Fatalf("cancel a finished job: exit %d: %s", code, stderr)
	}
	if code, _, _ := proofmill(t, "status", "--server", addr, "--id", "nope"); code != 8 {
		t.Fatalf("status of an unknown job: exit %d", code)
	}
	late := writeFile(t, "late.json", testinput.Example(t, "invoice-consistency.json").Set("invoice.number", "78").Set("bill_of_lading.ship_date", "2026-05-09").JSON())
	if code, _, stderr := proofmill(t, "prove", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", late); code != 4 || !strings.Contains(stderr, "rule ship-window") {
		t.Fatalf("prove --server, false statement: exit %d: %s", code, stderr)
	}
	remote := filepath.Join(t.TempDir(), "remote.json")
	if code, _, stderr := proofmill(t, "prove", "--server", addr, "--circuit", "invoice-consistency/v1", "--input", input, "--out", remote); code != 0 {
		t.Fatalf("prove --server: exit %d: %s", code, stderr)
	}
}

// The ceremony's steps refuse to run out of order, with clear errors (the
// full round trip is prover's TestCeremonyRoundTrip).
func TestCeremonyCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ceremony")
	keys := t.TempDir()
	beacon := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"ceremony", "init", "--circuit", "invoice-consistency/v1"}, 2, "--dir is required"},
		{[]string{"ceremony", "init", "--circuit", "invoice-consistency/v1", "--dir", dir}, 0, "domain 8192"},
		{[]string{"ceremony", "init", "--circuit", "invoice-consistency/v1", "--dir", dir}, 1, "already holds a ceremony"},
		{[]string{"ceremony", "seal", "--circuit", "invoice-consistency/v1", "--dir", dir}, 2, "--beacon"},
		{[]string{"ceremony", "seal", "--circuit", "invoice-consistency/v1", "--dir", dir, "--beacon", beacon}, 1, "no contribution yet"},
		{[]string{"import", "--circuit", "invoice-consistency/v1", "--dir", dir, "--beacon", beacon}, 1, "not sealed"},
		{[]string{"ceremony", "verify", "--circuit", "abs-pool-16/v1", "--dir", dir, "--beacon", beacon}, 1, "is for invoice-consistency/v1"},
		{[]string{"ceremony", "dance"}, 2, `unknown command "dance" for "proofmill keys ceremony"`},
	} {
		code, stdout, stderr := proofmill(t, append(append([]string{"keys"}, tc.args...), "--keys", keys)...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.says) {
			t.Errorf("keys %v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.says, stdout, stderr)
		}
	}
}

func TestBenchCheck(t *testing.T) {
	if code, _, stderr := proofmill(t, "bench", "--check", t.TempDir()); code != 1 || !strings.Contains(stderr, "report.json") {
		t.Errorf("bench --check of an empty folder: exit %d\n%s", code, stderr)
	}
}

// The names earlier releases gave flags still work.
func TestOldFlagNames(t *testing.T) {
	if code, _, stderr := proofmill(t, "worker", "--concurrency", "2", "--drain-timeout", "5s", "--help"); code != 0 {
		t.Fatalf("worker's old flags: exit %d: %s", code, stderr)
	}
	table := writeFile(t, "tenants.json", `{"tenants": [{"id": "bank-a", "tokens_sha256": ["`+tenants.Digest("t")+`"]}]}`)
	if code, stdout, stderr := proofmill(t, "tenants", "check", "--file", table); code != 0 || !strings.HasPrefix(stdout, "bank-a: weight 1") {
		t.Fatalf("tenants check --file: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := proofmill(t, "audit", "verify", "--file", filepath.Join(t.TempDir(), "none.log")); code != 1 || !strings.Contains(stderr, "none.log") {
		t.Fatalf("audit verify --file: exit %d: %s", code, stderr)
	}
}

// --workers takes a count or none (a node that only admits jobs).
func TestWorkersFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{"none", -1}, {"-1", -1}, {"0", 0}, {"3", 3}} {
		var w workersValue
		if err := w.Set(tc.in); err != nil || int(w) != tc.want {
			t.Errorf("--workers %s: %d, %v; want %d", tc.in, w, err, tc.want)
		}
		if tc.want < 0 && w.String() != "none" {
			t.Errorf("--workers %s shows as %q", tc.in, w.String())
		}
	}
}
