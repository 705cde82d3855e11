package server

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
)

// tenantKeys publishes a key per tenant; a tenant without one gets none.
type tenantKeys map[string]*sealed.PublicKey

func (k tenantKeys) For(tenant string) (*sealed.PublicKey, error) { return k[tenant], nil }

func newInputKey(t *testing.T) *sealed.PrivateKey {
	t.Helper()
	k, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rawClient calls the API with no checks of its own, as the token's tenant.
func rawClient(t *testing.T, addr, token string) (pb.ProverClient, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := t.Context()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return pb.NewProverClient(conn), ctx
}

// GetInputKey publishes each tenant's key with its tenant, signed by the
// key GetServiceKey states.
func TestGetInputKey(t *testing.T) {
	own, shared := newInputKey(t), newInputKey(t)
	_, addr := startWith(t, newFake(), true, func(c *Config) {
		c.InputKeys = tenantKeys{"bank-a": own.Public(), "bank-b": shared.Public()}
	})
	for token, want := range map[string]struct {
		tenant string
		key    *sealed.PrivateKey
	}{"a": {"bank-a", own}, "b": {"bank-b", shared}} {
		rpc, ctx := rawClient(t, addr, token)
		service, err := rpc.GetServiceKey(ctx, &pb.GetServiceKeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rpc.GetInputKey(ctx, &pb.GetInputKeyRequest{})
		if err != nil {
			t.Fatalf("%s: %v", want.tenant, err)
		}
		if resp.GetTenant() != want.tenant || resp.GetKeyId() != want.key.ID() || resp.GetSuite() != sealed.Suite ||
			!bytes.Equal(resp.GetPublicKey(), want.key.Public().Bytes()) || resp.GetSigningKeyId() != service.GetKeyId() {
			t.Fatalf("%s: published %v", want.tenant, resp)
		}
		if _, err := sealed.VerifyKeyStatement(resp.GetKeyId(), resp.GetSuite(), resp.GetPublicKey(), resp.GetTenant(),
			resp.GetSignature(), service.GetEd25519PublicKey()); err != nil {
			t.Fatalf("%s: the statement does not verify under the service key: %v", want.tenant, err)
		}
	}
}

// Without input keys, or without one for the caller, nothing is published
// and sealed inputs are refused, saying so.
func TestNoInputKey(t *testing.T) {
	fake := newFake()
	k := newInputKey(t)
	for name, edit := range map[string]func(*Config){
		"no input keys":      nil,
		"none for no tenant": func(c *Config) { c.InputKeys = tenantKeys{"bank-a": k.Public()} },
	} {
		_, addr := startWith(t, fake, false, edit)
		c := dial(t, addr, "")
		if _, err := c.InputKey(t.Context()); errcode.Of(err) != errcode.InputKeyUnknown || !strings.Contains(err.Error(), "publishes no input key") {
			t.Errorf("%s: GetInputKey: %v", name, err)
		}
		req := &pb.SubmitProofRequest{Circuit: "c", SealedInput: &pb.SealedInput{KeyId: k.ID(), Ciphertext: []byte("x")}}
		if _, _, err := c.Submit(t.Context(), req); errcode.Of(err) != errcode.InputKeyUnknown || status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: a sealed submission: %v", name, err)
		}
	}
	if len(fake.requests) != 0 {
		t.Fatalf("the scheduler saw %d sealed requests", len(fake.requests))
	}
}

// A sealed submission is checked for what the server can see; one that
// passes reaches the scheduler as a sealed request, ciphertext untouched.
func TestSealedSubmission(t *testing.T) {
	fake := newFake()
	k, other := newInputKey(t), newInputKey(t)
	_, addr := startWith(t, fake, false, func(c *Config) { c.InputKeys = tenantKeys{"": k.Public()} })
	c := dial(t, addr, "")
	ctx := t.Context()
	sealedReq := func(keyID string, size int) *pb.SubmitProofRequest {
		return &pb.SubmitProofRequest{Circuit: "c", SealedInput: &pb.SealedInput{KeyId: keyID, Ciphertext: bytes.Repeat([]byte{1}, size)}}
	}
	both := sealedReq(k.ID(), 2000)
	both.InputJson = "{}"
	for _, tc := range []struct {
		name     string
		req      *pb.SubmitProofRequest
		code     errcode.Code
		mentions []string
	}{
		{"another key", sealedReq(other.ID(), 2000), errcode.InputKeyUnknown, []string{other.ID(), k.ID(), "GetInputKey"}},
		{"an unknown key", sealedReq("ik1-nonesuch", 2000), errcode.InputKeyUnknown, []string{`"ik1-nonesuch"`, k.ID()}},
		{"a huge key id", sealedReq(strings.Repeat("k", 5000), 2000), errcode.InputKeyUnknown, []string{"of 5000 bytes"}},
		{"input_json too", both, errcode.BadRequest, []string{"input_json and sealed_input"}},
		{"no key id", sealedReq("", 2000), errcode.BadRequest, []string{"sealed_input.key_id: required"}},
		{"no ciphertext", sealedReq(k.ID(), 0), errcode.BadRequest, []string{"sealed_input.ciphertext: required"}},
		{"over the limit", sealedReq(k.ID(), 1024+sealed.Overhead+1), errcode.InvalidInput, []string{"sealed_input.ciphertext: input too large", "--max-input"}},
	} {
		_, _, err := c.Submit(ctx, tc.req)
		if errcode.Of(err) != tc.code || status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %s %v; want %s", tc.name, errcode.Of(err), err, tc.code)
			continue
		}
		for _, m := range tc.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: %q does not mention %q", tc.name, err, m)
			}
		}
	}
	if len(fake.requests) != 0 {
		t.Fatalf("the scheduler saw %d refused requests", len(fake.requests))
	}
	atLimit := sealedReq(k.ID(), 1024+sealed.Overhead)
	j, created, err := c.Submit(ctx, atLimit)
	if err != nil || !created || j.GetState() != pb.JobState_JOB_STATE_QUEUED {
		t.Fatalf("a sealed input at the limit: %v %v %v", j, created, err)
	}
	r := fake.requests[0]
	if r.Sealed == nil || r.Sealed.KeyID != k.ID() || !bytes.Equal(r.Sealed.Data, atLimit.GetSealedInput().GetCiphertext()) || r.Input != nil {
		t.Fatalf("the scheduler was asked %+v", r)
	}
}

// The client seals to the published key for its tenant; the worker's key
// opens what the scheduler is given, and only for that tenant and circuit.
func TestClientSealsToThePublishedKey(t *testing.T) {
	fake := newFake()
	k := newInputKey(t)
	_, addr := startWith(t, fake, true, func(c *Config) { c.InputKeys = tenantKeys{"bank-b": k.Public()} })
	c := dial(t, addr, "b")
	ctx := t.Context()
	doc := []byte(`{"invoice": {"salt": "1316"}}`)
	in, err := c.Seal(ctx, "invoice-consistency/v1", doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", SealedInput: in}); err != nil {
		t.Fatal(err)
	}
	r := fake.requests[0]
	if r.Tenant != "bank-b" || r.Sealed == nil || bytes.Contains(r.Sealed.Data, []byte("1316")) {
		t.Fatalf("the scheduler was asked %+v", r)
	}
	if got, err := k.Open("bank-b", "invoice-consistency/v1", r.Sealed.Data); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("the worker's open: %q %v", got, err)
	}
	if _, err := k.Open("bank-a", "invoice-consistency/v1", r.Sealed.Data); errcode.Of(err) != errcode.SealedInvalid {
		t.Fatalf("opened for another tenant: %v", err)
	}
	// A pinned service key that is not the server's refuses the published key.
	pinned, err := client.Dial(addr, client.Options{Token: "b", Retries: -1, ServiceKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	if _, err := pinned.Seal(ctx, "invoice-consistency/v1", doc); !strings.Contains(err.Error(), "does not verify") || errcode.Of(err) != errcode.ReceiptInvalid {
		t.Fatalf("sealed under a key the pinned service key did not sign: %v", err)
	}
}
