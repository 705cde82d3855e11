package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"

	"github.com/proofmill/proofmill/server"
)

// runTenants: `tenants token` makes an API token; `tenants check FILE`
// reads a tenant table; `audit verify FILE` lives beside it.
func runTenants(_ context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tenants token | tenants check --file FILE", errUsage)
	}
	fs, _ := flags(e, "tenants "+args[0])
	switch args[0] {
	case "token":
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		token := "pm_" + base64.RawURLEncoding.EncodeToString(raw)
		fmt.Fprintf(e.stdout, "token: %s\ntokens_sha256 entry: %s\n", token, server.TokenDigest(token))
		fmt.Fprintln(e.stderr, "Give the token to the tenant (PROOFMILL_TOKEN); put only the digest in the tenant table.")
		return nil
	case "check":
		file := fs.String("file", os.Getenv("PROOFMILL_TENANTS"), "tenant table `file`")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		ts, err := server.LoadTenants(*file)
		if err != nil {
			return err
		}
		for _, t := range ts.All() {
			fmt.Fprintf(e.stdout, "%s: weight %d, max queued %d, %g submissions/s, %d tokens, %d certificate names\n",
				t.ID, max(1, t.Weight), t.MaxQueued, t.SubmitsPerSecond, len(t.TokensSHA256), len(t.CertCommonNames))
		}
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand tenants %s", errUsage, args[0])
}

// runAudit: `audit verify FILE` checks the audit log's hash chain.
func runAudit(_ context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("%w: audit verify --file FILE", errUsage)
	}
	fs, _ := flags(e, "audit verify")
	file := fs.String("file", "", "audit log `file`")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	last, lines, err := server.VerifyAuditLog(f)
	if err != nil {
		return err
	}
	// The chain protects every line but the last: keep this hash elsewhere
	// to protect that one too.
	fmt.Fprintf(e.stdout, "%s: %d records, chain intact; last record sha256 %s\n", *file, lines, last)
	return nil
}
