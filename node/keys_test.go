package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/prover"
)

const invoiceID, poolID = "invoice-consistency/v1", "abs-pool-16/v1"

// privateKeys copies the shared test keys of ids into a key store of the
// test's own, for it to damage.
func privateKeys(t *testing.T, ids ...string) string {
	t.Helper()
	p := testkeys.Prover(t)
	dir := t.TempDir()
	for _, id := range ids {
		c, err := circuits.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Keys(c); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(testkeys.Dir(), filepath.FromSlash(id))
		if err := os.CopyFS(filepath.Join(dir, filepath.FromSlash(id)), os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// corruptProvingKeyHeader sets the dump's wire count to 2⁶³−1 and updates
// the manifest's hash to match, so only the header is wrong.
func corruptProvingKeyHeader(t *testing.T, keys, id string) string {
	t.Helper()
	dir := filepath.Join(keys, filepath.FromSlash(id))
	path := filepath.Join(dir, "proving.key")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[8+169+448:], []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	var m map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["sha256"].(map[string]any)["proving.key"] = hex.EncodeToString(sum[:])
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func health(t *testing.T, conn *grpc.ClientConn, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	res, err := healthpb.NewHealthClient(conn).Check(timeout(t, 10*time.Second), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health of %q: %v", service, err)
	}
	return res.GetStatus()
}

func dialRaw(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Keys that cannot be used make their circuit unavailable: health says so
// for that circuit (the server stays SERVING for the others),
// ListCircuits says why, and a submission is refused at once with the
// keys' code, instead of being accepted and failing its three attempts. A
// proving key whose header is corrupt (its hash updated to match) no
// longer crashes the server at start.
//
// ListCircuits compiles the circuits without keys for their size (slow
// under -race), so this runs beside the other tests, as TestListCircuits.
func TestUnusableKeysMakeTheCircuitUnavailable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		damage  func(t *testing.T, keys string) string // returns what the reason must name
		code    errcode.Code
		mention string
	}{
		{"unreadable manifest", func(t *testing.T, keys string) string {
			if err := os.WriteFile(filepath.Join(keys, filepath.FromSlash(invoiceID), "manifest.json"), []byte(`{"circuit": `), 0o644); err != nil {
				t.Fatal(err)
			}
			return "manifest"
		}, errcode.CorruptKeys, "manifest"},
		{"corrupt proving key header", func(t *testing.T, keys string) string {
			return corruptProvingKeyHeader(t, keys, invoiceID)
		}, errcode.CorruptKeys, ""},
		{"no keys", func(t *testing.T, keys string) string {
			os.RemoveAll(filepath.Join(keys, filepath.FromSlash(invoiceID)))
			return "keys setup --circuit " + invoiceID
		}, errcode.NoKeys, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := privateKeys(t, invoiceID, poolID)
			mention := tc.damage(t, keys)
			n, c := startNode(t, func(cfg *node.Config) { cfg.KeysDir, cfg.DevSetup, cfg.Preload = keys, false, "present" })
			conn := dialRaw(t, n.Addr())
			for service, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
				invoiceID: healthpb.HealthCheckResponse_NOT_SERVING, poolID: healthpb.HealthCheckResponse_SERVING,
				"": healthpb.HealthCheckResponse_SERVING, "proofmill.v1.Prover": healthpb.HealthCheckResponse_SERVING,
			} {
				if got := health(t, conn, service); got != want {
					t.Errorf("health of %q: %v, want %v", service, got, want)
				}
			}
			ctx := timeout(t, 10*time.Minute)
			list, err := c.Circuits(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ci := range list {
				switch ci.GetId() {
				case invoiceID:
					if ci.GetUnavailableCode() != string(tc.code) || !strings.Contains(ci.GetUnavailableReason(), mention) {
						t.Errorf("ListCircuits: %s unavailable %q: %q, want %s naming %q", ci.GetId(), ci.GetUnavailableCode(), ci.GetUnavailableReason(), tc.code, mention)
					}
				case poolID:
					if ci.GetUnavailableCode() != "" {
						t.Errorf("ListCircuits: %s unavailable: %s", ci.GetId(), ci.GetUnavailableReason())
					}
				}
			}
			_, _, err = c.Submit(ctx, &pb.SubmitProofRequest{Circuit: invoiceID, InputJson: readExample(t, "invoice-consistency.json")})
			if s := status.Convert(err); s.Code() != codes.FailedPrecondition || errcode.Of(err) != tc.code || !strings.Contains(s.Message(), mention) {
				t.Fatalf("submission for unusable keys: %v, want FAILED_PRECONDITION %s naming %q", err, tc.code, mention)
			}
			// The other circuit still takes jobs.
			if _, created, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: poolID, InputJson: readExample(t, "abs-pool.json")}); err != nil || !created {
				t.Fatalf("a submission for the usable circuit: created %v, %v", created, err)
			}
		})
	}
}

// Keys named in --preload must load: a corrupt one stops the start with
// corrupt_keys naming the file, never a panic.
func TestPreloadOfCorruptKeysIsAClearError(t *testing.T) {
	keys := privateKeys(t, invoiceID)
	path := corruptProvingKeyHeader(t, keys, invoiceID)
	cfg := testConfig(t)
	cfg.KeysDir, cfg.DevSetup, cfg.Preload = keys, false, invoiceID
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Start(context.Background())
	if !errors.Is(err, prover.ErrCorruptKeys) || !strings.Contains(err.Error(), path) {
		t.Fatalf("start with corrupt preloaded keys: %v, want corrupt_keys naming %s", err, path)
	}
}

// Without a usable circuit the server is NOT_SERVING; keys set up while it
// runs make their circuit available, with no restart.
func TestNoUsableCircuitIsNotServing(t *testing.T) {
	keys := t.TempDir()
	n, c := startNode(t, func(cfg *node.Config) { cfg.KeysDir, cfg.DevSetup = keys, false })
	conn := dialRaw(t, n.Addr())
	if got := health(t, conn, ""); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health with no keys at all: %v", got)
	}
	if err := os.CopyFS(filepath.Join(keys, filepath.FromSlash(poolID)), os.DirFS(filepath.Join(privateKeys(t, poolID), filepath.FromSlash(poolID)))); err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, time.Minute)
	if _, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: poolID, InputJson: readExample(t, "abs-pool.json")}); err != nil {
		t.Fatalf("a submission once keys are there: %v", err)
	}
	if got := health(t, conn, poolID); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health of %s once its keys loaded: %v", poolID, got)
	}
	if got := health(t, conn, ""); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health once a circuit is usable: %v", got)
	}
}

// serve --production does not take the manifest's word: development keys
// whose manifest was edited to say "ceremony" stop the start with
// development_keys, saying to import keys from a ceremony.
func TestProductionRefusesAnEditedManifest(t *testing.T) {
	keys := privateKeys(t, invoiceID)
	path := filepath.Join(keys, filepath.FromSlash(invoiceID), "manifest.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), `"origin": "development"`, `"origin": "ceremony"`, 1)
	if edited == string(raw) {
		t.Fatalf("no origin field to edit in %s", raw)
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.KeysDir, cfg.Production, cfg.Preload = keys, true, "present"
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Start(context.Background())
	if err == nil {
		n.Shutdown(context.Background())
	}
	if !errors.Is(err, prover.ErrDevelopmentKeys) || !strings.Contains(err.Error(), "keys import") {
		t.Fatalf("production start with an edited manifest: %v, want development_keys saying to import", err)
	}
}

// A development server (DevSetup) makes keys on first use, but not for a
// circuit above circuits.ImplicitKeysLimit (abs-pool-4096): without keys it
// is unavailable, says which command makes them, and refuses a submission
// at once; nothing is written for it and the server stays SERVING.
func TestLargeCircuitKeysOnlyWhenAsked(t *testing.T) {
	const large = "abs-pool-4096/v1"
	keys := t.TempDir()
	n, c := startNode(t, func(cfg *node.Config) { cfg.KeysDir, cfg.Preload = keys, "present" })
	conn := dialRaw(t, n.Addr())
	if got := health(t, conn, large); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health of %s: %v", large, got)
	}
	if got := health(t, conn, ""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("server health: %v (the small circuits' keys are made on first use)", got)
	}
	ctx := timeout(t, time.Minute)
	list, err := c.Circuits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "keys setup --circuit " + large
	for _, ci := range list {
		cc, err := circuits.Lookup(ci.GetId())
		if err != nil {
			t.Fatal(err)
		}
		switch unavailable := ci.GetUnavailableCode() != ""; {
		case cc.KeysOnlyWhenAsked() && (ci.GetUnavailableCode() != string(errcode.NoKeys) || !strings.Contains(ci.GetUnavailableReason(), "keys setup --circuit "+cc.ID)):
			t.Errorf("ListCircuits: %s unavailable %q: %q, want no_keys naming the setup command", cc.ID, ci.GetUnavailableCode(), ci.GetUnavailableReason())
		case !cc.KeysOnlyWhenAsked() && unavailable:
			t.Errorf("ListCircuits: %s unavailable: %s", cc.ID, ci.GetUnavailableReason())
		}
	}
	_, _, err = c.Submit(ctx, &pb.SubmitProofRequest{Circuit: large, InputJson: readExample(t, "abs-pool.json")})
	if s := status.Convert(err); s.Code() != codes.FailedPrecondition || errcode.Of(err) != errcode.NoKeys || !strings.Contains(s.Message(), want) {
		t.Fatalf("submission for %s: %v, want FAILED_PRECONDITION no_keys naming %q", large, err, want)
	}
	if _, err := os.Stat(filepath.Join(keys, filepath.FromSlash(large))); !os.IsNotExist(err) {
		t.Fatalf("%s: a key folder was made (%v)", large, err)
	}
}
