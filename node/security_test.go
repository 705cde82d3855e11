package node_test

import (
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
	"github.com/proofmill/proofmill/audit"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/tenants"
)

// TenantTable writes a tenant table; each tenant's token is its id + "-token".
func tenantTable(t testing.TB, ts ...*tenants.Tenant) string {
	t.Helper()
	for _, tn := range ts {
		if len(tn.CertCommonNames) == 0 {
			tn.TokensSHA256 = []string{tenants.Digest(tn.ID + "-token")}
		}
	}
	data, err := json.Marshal(map[string]any{"tenants": ts})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dialAs(t testing.TB, n *node.Node, opt client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(n.Addr(), opt)
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
	table := tenantTable(t, &tenants.Tenant{ID: "bank-a", MaxQueued: 2}, &tenants.Tenant{ID: "bank-b", SubmitsPerSecond: 0.001, Burst: 2})
	n, anon := startNode(t, func(cfg *node.Config) { cfg.Tenants = table; node.HoldWorkers(cfg) })
	ctx := t.Context()
	a := dialAs(t, n, client.Options{Token: "bank-a-token"})
	b := dialAs(t, n, client.Options{Token: "bank-b-token"})
	in := testinput.Invoice(t, 900)

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
		if err := call(); status.Code(err) != codes.Unauthenticated || errcode.Of(err) != errcode.Unauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", name, err)
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
	if _, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 901)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 902)})
	if errcode.Of(err) != errcode.TenantQuota || !strings.Contains(err.Error(), "bank-a") {
		t.Fatalf("bank-a's third unfinished job: %v", err)
	}
	if _, _, err := b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 903)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 904)})
	if errcode.Of(err) != errcode.RateLimited || !strings.Contains(err.Error(), "submission rate") {
		t.Fatalf("bank-b's third submission in its burst of 2: %v", err)
	}
}

// auditRecords reads an audit log after checking its chain.
func auditRecords(t *testing.T, path string) []audit.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.Verify(strings.NewReader(string(data))); err != nil {
		t.Fatalf("audit log: %v\n%s", err, data)
	}
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestReceiptsAndAudit: a proved job carries a receipt the client verifies
// under the service's key; the scheduler records its life in the audit
// log, hash-chained, with the receipt's digest of its public inputs and
// none of its inputs.
func TestReceiptsAndAudit(t *testing.T) {
	var data string
	n, c := startNode(t, func(cfg *node.Config) { data = cfg.DataDir })
	ctx := t.Context()
	in := testinput.Invoice(t, 950)
	j, err := c.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: in})
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

	records := auditRecords(t, filepath.Join(data, "audit.log"))
	var events []string
	for _, r := range records {
		events = append(events, r.Event)
		if r.Job != j.GetId() || r.Circuit != "invoice-consistency/v1" {
			t.Fatalf("record %+v", r)
		}
	}
	if strings.Join(events, ",") != "submitted,started,succeeded" {
		t.Fatalf("events %v", events)
	}
	last := records[2]
	if last.PublicInputsSHA256 != j.GetReceipt().GetPublicInputsSha256() || last.VerifyingKeySHA256 != j.GetVerifyingKeySha256() || last.Backend != "cpu" || last.Attempts != 1 {
		t.Fatalf("succeeded record %+v", last)
	}
	var doc struct {
		Invoice struct{ Salt string } `json:"invoice"`
	}
	json.Unmarshal([]byte(in), &doc)
	log, _ := os.ReadFile(filepath.Join(data, "audit.log"))
	if doc.Invoice.Salt == "" || strings.Contains(string(log), doc.Invoice.Salt) {
		t.Fatal("the audit log holds a document's salt")
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

// TestMutualTLS: with a client CA, a client certificate names the tenant;
// no certificate, or plaintext, gets nowhere.
func TestMutualTLS(t *testing.T) {
	caFile, serverCert, serverKey, clientCert, clientKey := testPKI(t, "bank-a.example")
	table := tenantTable(t, &tenants.Tenant{ID: "bank-a", CertCommonNames: []string{"bank-a.example"}})
	n, _ := startNode(t, func(cfg *node.Config) {
		cfg.Tenants = table
		node.HoldWorkers(cfg)
		cfg.TLS = node.TLS{CertFile: serverCert, KeyFile: serverKey, ClientCA: caFile}
	})
	ctx := timeout(t, 10*time.Second)
	tlsFor := func(files client.TLSFiles) client.Options {
		cfg, err := files.Config()
		if err != nil {
			t.Fatal(err)
		}
		return client.Options{TLS: cfg, Retries: -1}
	}
	withCert := dialAs(t, n, tlsFor(client.TLSFiles{CAFile: caFile, CertFile: clientCert, KeyFile: clientKey}))
	j, _, err := withCert.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 960)})
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

// TestPlaintextStaysOnLoopback: without a certificate, a server refuses a
// network address unless told Insecure.
func TestPlaintextStaysOnLoopback(t *testing.T) {
	for _, edit := range []func(*node.Config){
		func(c *node.Config) { c.Listen = "0.0.0.0:0" },
		func(c *node.Config) { c.TLS.ClientCA = "ca.pem" },
	} {
		cfg := testConfig(t)
		edit(&cfg)
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(t.Context()); errcode.Of(err) != errcode.Usage {
			t.Errorf("%s %+v: %v", cfg.Listen, cfg.TLS, err)
		}
	}
}

// TestTenantFloodFairShare: one tenant queues a flood, another one job;
// with one worker, the second tenant's job is at most the second to start.
func TestTenantFloodFairShare(t *testing.T) {
	table := tenantTable(t, &tenants.Tenant{ID: "bank-a"}, &tenants.Tenant{ID: "bank-b"})
	n, _ := startNode(t, func(cfg *node.Config) { cfg.Tenants, cfg.Workers = table, 1; node.HoldWorkers(cfg) })
	ctx := t.Context()
	a := dialAs(t, n, client.Options{Token: "bank-a-token"})
	b := dialAs(t, n, client.Options{Token: "bank-b-token"})
	var flood []string
	for i := range 12 {
		j, _, err := a.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 1000+i)})
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, j.GetId())
	}
	late, _, err := b.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 2000)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.StartWorkers(); err != nil {
		t.Fatal(err)
	}
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

// TestProductionRefusesDevelopmentKeys: a production server will not start
// on a key store with development keys.
func TestProductionRefusesDevelopmentKeys(t *testing.T) {
	c, _ := circuits.Lookup("invoice-consistency/v1")
	if _, err := testkeys.Prover(t).Keys(c); err != nil { // development keys in the shared store
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Production = true
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); !errors.Is(err, prover.ErrDevelopmentKeys) || errcode.Of(err) != errcode.DevelopmentKeys {
		t.Fatalf("production on development keys: %v", err)
	}
}
