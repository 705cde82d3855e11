package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/receipt"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/server"
)

// tenantTable writes a tenant table; each tenant's token is its id + "-token".
func tenantTable(t *testing.T, tenants ...*server.Tenant) string {
	t.Helper()
	for _, tn := range tenants {
		if len(tn.CertCommonNames) == 0 {
			tn.TokensSHA256 = []string{server.TokenDigest(tn.ID + "-token")}
		}
	}
	data, err := json.Marshal(map[string]any{"tenants": tenants})
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "tenants.json", string(data))
}

func dialAs(t *testing.T, n *node, opt client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(n.addr.String(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTenantIsolation: tenants authenticate by token, see only their own
// jobs (another's ID reads exactly like a missing one), and are held to
// their quotas.
func TestTenantIsolation(t *testing.T) {
	table := tenantTable(t, &server.Tenant{ID: "bank-a", MaxQueued: 2}, &server.Tenant{ID: "bank-b", SubmitsPerSecond: 0.001, Burst: 2})
	n, anon := startTestNode(t, func(cfg *serveConfig) { cfg.Tenants = table; cfg.pausedWorkers = true })
	ctx := t.Context()
	a := dialAs(t, n, client.Options{Token: "bank-a-token"})
	b := dialAs(t, n, client.Options{Token: "bank-b-token"})
	in := invoiceInput(t, 900)

	for name, call := range map[string]func() error{
		"no credentials": func() error {
			_, _, err := anon.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: in})
			return err
		},
		"unknown token": func() error {
			_, err := dialAs(t, n, client.Options{Token: "guess"}).Circuits(ctx)
			return err
		},
	} {
		if code := status.Code(call()); code != codes.Unauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", name, code)
		}
	}

	ja, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: in})
	if err != nil {
		t.Fatal(err)
	}
	jb, created, err := b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: in})
	if err != nil || !created || jb.GetId() == ja.GetId() {
		t.Fatalf("the same statement from another tenant: %v created %v err %v", jb.GetId(), created, err)
	}

	missing := strings.Repeat("0", len(ja.GetId()))
	for _, tc := range []struct {
		name string
		call func(id string) error
	}{
		{"get", func(id string) error { _, err := b.Get(ctx, id); return err }},
		{"cancel", func(id string) error { _, err := b.Cancel(ctx, id); return err }},
		{"watch", func(id string) error { return b.Watch(ctx, id, func(*pb.Job) error { return nil }) }},
	} {
		foreign, absent := tc.call(ja.GetId()), tc.call(missing)
		if status.Code(foreign) != codes.NotFound {
			t.Errorf("%s another tenant's job: %v, want NOT_FOUND", tc.name, foreign)
		}
		if got, want := strings.ReplaceAll(status.Convert(foreign).Message(), ja.GetId(), "ID"), strings.ReplaceAll(status.Convert(absent).Message(), missing, "ID"); got != want {
			t.Errorf("%s: another tenant's job reads %q, a missing one %q", tc.name, got, want)
		}
	}
	if j, err := a.Get(ctx, ja.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_QUEUED {
		t.Fatalf("the owner lost its job: %v %v", j, err)
	}

	// Quotas: bank-a may have 2 unfinished jobs; bank-b may submit twice.
	if _, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 901)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 902)})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "bank-a") {
		t.Fatalf("bank-a's third unfinished job: %v", err)
	}
	if _, _, err := b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 903)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 904)})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "submission rate") {
		t.Fatalf("bank-b's third submission in its burst of 2: %v", err)
	}
}

// TestReceiptsAndAudit: a proved job carries a receipt the client verifies
// under the service's key; the audit log records it, hash-chained.
func TestReceiptsAndAudit(t *testing.T) {
	var data string
	n, c := startTestNode(t, func(cfg *serveConfig) { data = cfg.DataDir })
	ctx := t.Context()
	j, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 950)})
	if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("%v %v", j, err)
	}
	if err := c.VerifyReceipt(ctx, j); err != nil {
		t.Fatal(err)
	}
	if again, err := c.Get(ctx, j.GetId()); err != nil || string(again.GetReceipt().GetSignature()) != string(j.GetReceipt().GetSignature()) {
		t.Fatalf("a second read signed differently: %v", err)
	}
	j.ProofJson[len(j.ProofJson)/2] ^= 1
	if err := c.VerifyReceipt(ctx, j); !errors.Is(err, receipt.ErrInvalid) {
		t.Fatalf("a changed proof kept its receipt: %v", err)
	}

	// Another service key (pinned): the receipt does not verify.
	otherKey, _, err := receipt.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := dialAs(t, n, client.Options{ServiceKey: receipt.NewSigner(otherKey, "x").PublicKey()})
	got, err := pinned.Get(ctx, j.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if err := pinned.VerifyReceipt(ctx, got); !errors.Is(err, receipt.ErrInvalid) {
		t.Fatalf("a receipt verified under another key: %v", err)
	}

	log, err := os.ReadFile(filepath.Join(data, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, lines, err := server.VerifyAuditLog(strings.NewReader(string(log))); err != nil || lines != 2 ||
		!strings.Contains(string(log), `"event":"submitted"`) || !strings.Contains(string(log), `"event":"succeeded"`) ||
		!strings.Contains(string(log), j.GetReceipt().GetPublicInputsSha256()) {
		t.Fatalf("audit log (%d lines, %v):\n%s", lines, err, log)
	}
	if code, stdout, _ := proofmill(t, "audit", "verify", "--file", filepath.Join(data, "audit.log")); code != 0 || !strings.Contains(stdout, "2 records, chain intact") {
		t.Fatalf("audit verify: %d %s", code, stdout)
	}
}

// testPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate with common name cn, as PEM files.
func testPKI(t *testing.T, cn string) (caFile, serverCert, serverKey, clientCert, clientKey string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (string, string) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(k)
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "PRIVATE KEY", kder)
	}
	serverCert, serverKey = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey = leaf(3, cn, x509.ExtKeyUsageClientAuth)
	return write("ca.crt", "CERTIFICATE", caDER), serverCert, serverKey, clientCert, clientKey
}

// TestMutualTLS: with --client-ca, a client certificate names the tenant;
// no certificate, or plaintext, gets nowhere.
func TestMutualTLS(t *testing.T) {
	caFile, serverCert, serverKey, clientCert, clientKey := testPKI(t, "bank-a.example")
	table := tenantTable(t, &server.Tenant{ID: "bank-a", CertCommonNames: []string{"bank-a.example"}})
	n, _ := startTestNode(t, func(cfg *serveConfig) {
		cfg.Tenants, cfg.pausedWorkers = table, true
		cfg.TLS = serverTLS{CertFile: serverCert, KeyFile: serverKey, ClientCA: caFile}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tlsFor := func(files client.TLSFiles) client.Options {
		cfg, err := files.Config()
		if err != nil {
			t.Fatal(err)
		}
		return client.Options{TLS: cfg, Retries: -1}
	}
	withCert := dialAs(t, n, tlsFor(client.TLSFiles{CAFile: caFile, CertFile: clientCert, KeyFile: clientKey}))
	j, _, err := withCert.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 960)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := withCert.Get(ctx, j.GetId()); err != nil || got.GetId() != j.GetId() {
		t.Fatalf("the certificate's tenant cannot read its job: %v", err)
	}
	for name, opt := range map[string]client.Options{
		"no client certificate": tlsFor(client.TLSFiles{CAFile: caFile}),
		"plaintext":             {Retries: -1},
	} {
		_, err := dialAs(t, n, opt).Circuits(ctx)
		if code := status.Code(err); code != codes.Unavailable && code != codes.Unauthenticated {
			t.Errorf("%s: %v", name, err)
		} else if err == nil {
			t.Errorf("%s: served", name)
		}
	}
}

// TestPlaintextStaysOnLoopback: without a certificate, serve refuses a
// network address unless told --insecure.
func TestPlaintextStaysOnLoopback(t *testing.T) {
	cfg := serveConfig{Listen: "0.0.0.0:0", DataDir: t.TempDir(), MaxQueued: 10, Preload: "none"}
	if _, err := startNode(cfg, quiet); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("plaintext on 0.0.0.0: %v", err)
	}
	cfg.TLS.ClientCA = "ca.pem"
	cfg.Listen = "127.0.0.1:0"
	if _, err := startNode(cfg, quiet); !errors.Is(err, errUsage) {
		t.Fatalf("--client-ca without a certificate: %v", err)
	}
}

// TestTenantFloodFairShare: one tenant queues a flood, another one job;
// with one worker, the second tenant's job is at most the second to start.
func TestTenantFloodFairShare(t *testing.T) {
	table := tenantTable(t, &server.Tenant{ID: "bank-a"}, &server.Tenant{ID: "bank-b"})
	n, _ := startTestNode(t, func(cfg *serveConfig) { cfg.Tenants, cfg.pausedWorkers, cfg.Workers = table, true, 1 })
	ctx := t.Context()
	a := dialAs(t, n, client.Options{Token: "bank-a-token"})
	b := dialAs(t, n, client.Options{Token: "bank-b-token"})
	var flood []string
	for i := range 12 {
		j, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 1000+i)})
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, j.GetId())
	}
	late, _, err := b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: invoiceInput(t, 2000)})
	if err != nil {
		t.Fatal(err)
	}
	n.pool.Start()
	done, err := b.Wait(ctx, late.GetId())
	if err != nil || done.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("bank-b's job: %v %v", done, err)
	}
	before := 0
	for _, id := range flood {
		j, err := a.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.GetStarted() != nil && j.GetStarted().AsTime().Before(done.GetStarted().AsTime()) {
			before++
		}
		a.Cancel(ctx, id) // the rest of the flood need not run
	}
	if before > 1 {
		t.Fatalf("%d of bank-a's jobs started before bank-b's one job, want at most 1", before)
	}
}

// TestCeremonyCommands: the steps refuse to run out of order, with clear
// errors (the full round trip is prover's TestCeremonyRoundTrip: three
// contributors per phase on a small circuit).
func TestCeremonyCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ceremony")
	keys := t.TempDir()
	run := func(args ...string) (int, string, string) {
		return proofmill(t, append([]string{"keys"}, append(args, "--keys", keys)...)...)
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"ceremony", "init", "--circuit", "invoice-consistency/v1"}, exitUsage, "--dir is required"},
		{[]string{"ceremony", "init", "--circuit", "invoice-consistency/v1", "--dir", dir}, 0, "domain 8192"},
		{[]string{"ceremony", "init", "--circuit", "invoice-consistency/v1", "--dir", dir}, exitFailure, "already holds a ceremony"},
		{[]string{"ceremony", "seal", "--circuit", "invoice-consistency/v1", "--dir", dir}, exitUsage, "--beacon"},
		{[]string{"ceremony", "seal", "--circuit", "invoice-consistency/v1", "--dir", dir, "--beacon", strings.Repeat("ab", 32)}, exitFailure, "no contribution yet"},
		{[]string{"import", "--circuit", "invoice-consistency/v1", "--dir", dir, "--beacon", strings.Repeat("ab", 32)}, exitFailure, "not sealed"},
		{[]string{"ceremony", "verify", "--circuit", "abs-pool-16/v1", "--dir", dir, "--beacon", strings.Repeat("ab", 32)}, exitFailure, "is for invoice-consistency/v1"},
		{[]string{"ceremony", "dance", "--circuit", "invoice-consistency/v1", "--dir", dir}, exitUsage, "unknown step"},
	} {
		code, stdout, stderr := run(tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.says) {
			t.Errorf("keys %v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.says, stdout, stderr)
		}
	}
}

// TestProductionRefusesDevelopmentKeys: serve --production will not start
// on a key store with development keys.
func TestProductionRefusesDevelopmentKeys(t *testing.T) {
	c, _ := lookup("invoice-consistency/v1")
	if _, err := testkeys.Prover(t).Keys(c); err != nil { // development keys in the shared store
		t.Fatal(err)
	}
	cfg := serveConfig{Listen: "127.0.0.1:0", DataDir: t.TempDir(), KeysDir: testkeys.Dir(), MaxQueued: 10, Preload: "none", Production: true}
	if _, err := startNode(cfg, quiet); !errors.Is(err, prover.ErrDevelopmentKeys) {
		t.Fatalf("--production on development keys: %v", err)
	}
}
