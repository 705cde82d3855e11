package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/tenants"
)

// `proofmill usage` prints a tenant's own figures as a table, filters by
// --since, gives the operator every tenant's as JSON, and exits 10 for
// another tenant's (permission_denied) and 2 for a malformed day.
func TestUsageCommand(t *testing.T) {
	table := writeFile(t, "tenants.json", `{"tenants": [{"id": "bank-a", "tokens_sha256": ["`+tenants.Digest("token-a")+`"]},
		{"id": "ops", "operator": true, "tokens_sha256": ["`+tenants.Digest("token-ops")+`"]}]}`)
	server := startNode(t, func(c *node.Config) { c.Tenants = table }).Addr()
	in := writeFile(t, "in.json", testinput.Invoice(t, 4300))
	if code, _, stderr := proofmill(t, "prove", "--server", server, "--token", "token-a", "--circuit", "invoice-consistency/v1", "--input", in,
		"--out", filepath.Join(t.TempDir(), "p")); code != 0 {
		t.Fatalf("prove: %d %s", code, stderr)
	}
	today := time.Now().UTC().Format("2006-01-02")
	code, stdout, stderr := proofmill(t, "usage", "--server", server, "--token", "token-a")
	row := regexp.MustCompile(`(?m)^` + today + `\s+bank-a\s+invoice-consistency/v1\s+cpu\s+1\s+[0-9]+\.[0-9]\s+[1-9][0-9]*\s+[1-9][0-9]*$`)
	if code != 0 || !row.MatchString(stdout) || !regexp.MustCompile(`(?m)^total\s+1\s`).MatchString(stdout) {
		t.Fatalf("usage: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = proofmill(t, "usage", "--server", server, "--token", "token-a", "--since", time.Now().UTC().Add(24*time.Hour).Format("2006-01-02"))
	if code != 0 || strings.Contains(stdout, "bank-a") || !regexp.MustCompile(`(?m)^total\s+0\s+0\.0\s+0\s+0$`).MatchString(stdout) {
		t.Fatalf("usage since tomorrow: %d\n%s", code, stdout)
	}
	code, stdout, _ = proofmill(t, "usage", "--server", server, "--token", "token-ops", "--json", "--since", today)
	var resp struct {
		Records []struct {
			Tenant string `json:"tenant"`
			Proofs string `json:"proofs"` // protojson writes int64 as a string
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(stdout), &resp); code != 0 || err != nil || len(resp.Records) != 1 || resp.Records[0].Tenant != "bank-a" || resp.Records[0].Proofs != "1" {
		t.Fatalf("the operator's usage as JSON: %d %v\n%s", code, err, stdout)
	}
	code, _, stderr = proofmill(t, "usage", "--server", server, "--token", "token-a", "--tenant", "ops")
	if code != 10 || !strings.Contains(stderr, "tenant bank-a may read only its own usage") {
		t.Fatalf("another tenant's usage: exit %d: %s", code, stderr)
	}
	if code, _, stderr = proofmill(t, "usage", "--server", server, "--since", "November"); code != 2 || !strings.Contains(stderr, "--since") {
		t.Fatalf("a malformed --since: exit %d: %s", code, stderr)
	}
}
