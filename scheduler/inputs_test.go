package scheduler_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/vault"
)

// vaultFor is the node's cipher over a ring in the test's folder.
func vaultFor(t *testing.T) *vault.Vault {
	t.Helper()
	m, _, err := vault.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(vault.Config{Masters: []*vault.MasterKey{m}, Ring: vault.FileRing{Path: filepath.Join(t.TempDir(), "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestInputsAreEncryptedAtRestAndDroppedAtTheEnd: the stored job holds the
// witness only as ciphertext, the worker's read opens it, and each way a
// job ends leaves no input behind.
func TestInputsAreEncryptedAtRestAndDroppedAtTheEnd(t *testing.T) {
	ctx := context.Background()
	ends := []struct {
		name string
		end  func(h *harness, j *scheduler.Job)
		want scheduler.State
	}{
		{"succeeded", func(h *harness, j *scheduler.Job) {
			h.next(t)
			h.Finish(ctx, j.ID, scheduler.Outcome{Result: []byte(`{}`), Backend: "cpu"})
		}, scheduler.Succeeded},
		{"failed", func(h *harness, j *scheduler.Job) {
			h.next(t)
			h.Finish(ctx, j.ID, scheduler.Outcome{Err: errcode.Errorf(errcode.Unsatisfied, "rule")})
		}, scheduler.Failed},
		{"cancelled", func(h *harness, j *scheduler.Job) {
			if _, err := h.Cancel(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}, scheduler.Cancelled},
		{"deadline", func(h *harness, j *scheduler.Job) {
			h.clock.Add(time.Hour)
			h.next(t) // the late job fails as it is popped; give Next another to return
		}, scheduler.Failed},
	}
	for _, tc := range ends {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, scheduler.Config{Inputs: vaultFor(t)})
			req := scheduler.Request{Input: invoiceNo(t, 1)}
			if tc.name == "deadline" {
				req.Deadline = h.clock.Now().Add(time.Minute)
			}
			j := h.submit(t, req)
			stored, err := h.store.Get(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored.Witness) > 0 || stored.EncryptedWitness == nil {
				t.Fatalf("stored job: witness %d bytes in the clear, encrypted %v", len(stored.Witness), stored.EncryptedWitness != nil)
			}
			w, err := h.Witness(ctx, stored)
			if err != nil || len(w) == 0 {
				t.Fatalf("Witness: %d bytes, %v", len(w), err)
			}
			if bytes.Contains(stored.EncryptedWitness.Data, w[len(w)-32:]) {
				t.Fatal("the ciphertext holds the witness")
			}
			if tc.name == "deadline" {
				h.submit(t, scheduler.Request{Input: invoiceNo(t, 2)})
			}
			tc.end(h, j)
			ended, err := h.store.Get(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ended.State != tc.want || ended.Witness != nil || ended.EncryptedWitness != nil || ended.Sealed != nil {
				t.Fatalf("ended job: state %s (want %s), witness %d bytes, encrypted %v, sealed %v",
					ended.State, tc.want, len(ended.Witness), ended.EncryptedWitness != nil, ended.Sealed != nil)
			}
		})
	}
}

// TestRetriedJobKeepsItsInput: a retryable failure puts the job back in
// line with its input, which still opens.
func TestRetriedJobKeepsItsInput(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, scheduler.Config{Inputs: vaultFor(t)})
	j := h.submit(t, scheduler.Request{Input: invoiceNo(t, 1)})
	h.next(t)
	if err := h.Finish(ctx, j.ID, scheduler.Outcome{Err: errcode.Errorf(errcode.DeviceFailure, "gpu lost")}); err != nil {
		t.Fatal(err)
	}
	again := h.next(t)
	if again.ID != j.ID || again.EncryptedWitness == nil {
		t.Fatalf("retried job %s: encrypted input %v", again.ID, again.EncryptedWitness != nil)
	}
	if w, err := h.Witness(ctx, again); err != nil || len(w) == 0 {
		t.Fatalf("Witness after a retry: %v", err)
	}
}

// TestSealedSubmissions: the server stores a sealed input as given, admits
// nothing, and binds the idempotency key to the ciphertext.
func TestSealedSubmissions(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, scheduler.Config{Inputs: vaultFor(t)})
	sealed := &scheduler.SealedInput{KeyID: "ik1-0123456789abcdef", Data: []byte("not even JSON: the server cannot read it")}
	j := h.submit(t, scheduler.Request{Sealed: sealed, IdempotencyKey: "order-1"})
	stored, err := h.store.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Sealed == nil || !bytes.Equal(stored.Sealed.Data, sealed.Data) || stored.Witness != nil || stored.EncryptedWitness != nil {
		t.Fatalf("stored sealed job: %+v", stored)
	}
	again, created, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Sealed: sealed, IdempotencyKey: "order-1"})
	if err != nil || created || again.ID != j.ID {
		t.Fatalf("the same sealed bytes again: %v, created %v", err, created)
	}
	resealed := &scheduler.SealedInput{KeyID: sealed.KeyID, Data: []byte("the same statement sealed again: other bytes")}
	if _, _, err := h.Submit(ctx, scheduler.Request{Circuit: circuit, Sealed: resealed, IdempotencyKey: "order-1"}); errcode.Of(err) != errcode.KeyReused {
		t.Fatalf("the key with other sealed bytes: %v, want key_reused", err)
	}
	noKey := h.submit(t, scheduler.Request{Sealed: resealed})
	if noKey.ID == j.ID {
		t.Fatal("a sealed job without a key took another's id")
	}
	for _, tc := range []struct {
		name string
		req  scheduler.Request
		want errcode.Code
	}{
		{"both", scheduler.Request{Input: invoiceNo(t, 1), Sealed: sealed}, errcode.BadRequest},
		{"bad key id", scheduler.Request{Sealed: &scheduler.SealedInput{KeyID: "ik1 with spaces", Data: []byte("x")}}, errcode.BadRequest},
		{"empty", scheduler.Request{Sealed: &scheduler.SealedInput{KeyID: sealed.KeyID}}, errcode.BadRequest},
		{"too large", scheduler.Request{Sealed: &scheduler.SealedInput{KeyID: sealed.KeyID, Data: make([]byte, scheduler.MaxSealedBytes+1)}}, errcode.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Circuit = circuit
			if _, _, err := h.Submit(ctx, tc.req); errcode.Of(err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}
