package ledger_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/proofmill/proofmill/ledger"
)

func TestVerifyBatch(t *testing.T) {
	files, served := invoiceProofs(t)
	key := loadKey(t, invoiceID, served)
	good := files[:4]
	with := func(i int, bad []byte) [][]byte {
		out := slices.Clone(good)
		out[i] = bad
		return out
	}
	for _, tc := range []struct {
		name  string
		batch [][]byte
		bad   []int // nil: the batch verifies
	}{
		{"real proofs", good, nil},
		{"all distinct proofs", files, nil},
		{"the same proof twice", [][]byte{files[0], files[0]}, nil},
		{"a changed public input", with(2, edit(t, good[2], setInput(1, "7"))), []int{2}},
		{"another statement's proof", with(1, edit(t, good[1], swapProof(t, good[3]))), []int{1}},
		{"a tampered point", with(0, edit(t, good[0], tamperPoint)), []int{0}},
		{"two bad", append(with(3, edit(t, good[3], tamperPoint)), edit(t, good[1], setInput(0, "1"))), []int{3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			statements, err := key.VerifyBatch(tc.batch)
			if tc.bad == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(statements) != len(tc.batch) {
					t.Fatalf("%d statements for %d proofs", len(statements), len(tc.batch))
				}
				for i, s := range statements {
					checkStatement(t, s, tc.batch[i], served.SHA256)
				}
				return
			}
			var be *ledger.BatchError
			if !errors.As(err, &be) || !errors.Is(err, ledger.ErrRejected) || statements != nil {
				t.Fatalf("got %v, want a BatchError", err)
			}
			if !slices.Equal(be.Bad, tc.bad) {
				t.Fatalf("bad proofs %v, want %v", be.Bad, tc.bad)
			}
		})
	}
}

// A batch refuses what Verify refuses before any pairing: a malformed file
// names its index.
func TestVerifyBatchRefusesBadFiles(t *testing.T) {
	files, served := invoiceProofs(t)
	key := loadKey(t, invoiceID, served)
	if _, err := key.VerifyBatch(nil); !errors.Is(err, ledger.ErrEmptyBatch) {
		t.Fatalf("empty batch: got %v, want ErrEmptyBatch", err)
	}
	if err := key.VerifyProofs(); !errors.Is(err, ledger.ErrEmptyBatch) {
		t.Fatalf("no proofs: got %v, want ErrEmptyBatch", err)
	}
	_, err := key.VerifyBatch([][]byte{files[0], []byte("{")})
	if !errors.Is(err, ledger.ErrBadProofFile) {
		t.Fatalf("malformed file: got %v, want ErrBadProofFile", err)
	}
	other := loadKey(t, "abs-pool-16/v1", servedKey(t, "abs-pool-16/v1"))
	p, err := other.Decode(files[0])
	if p != nil || !errors.Is(err, ledger.ErrWrongCircuit) {
		t.Fatalf("invoice proof decoded for the pool key: got %v, want ErrWrongCircuit", err)
	}
	p, err = key.Decode(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := other.VerifyProofs(p); !errors.Is(err, ledger.ErrWrongKey) {
		t.Fatalf("proof decoded for another key: got %v, want ErrWrongKey", err)
	}
}

// A batch of one says what Verify says.
func TestBatchOfOneIsVerify(t *testing.T) {
	files, served := invoiceProofs(t)
	key := loadKey(t, invoiceID, served)
	for _, f := range [][]byte{files[0], edit(t, files[0], setInput(1, "7")), edit(t, files[0], tamperPoint)} {
		one, errOne := key.Verify(f)
		batch, errBatch := key.VerifyBatch([][]byte{f})
		if errors.Is(errOne, ledger.ErrRejected) != errors.Is(errBatch, ledger.ErrRejected) || (errOne == nil) != (errBatch == nil) {
			t.Fatalf("Verify: %v; VerifyBatch: %v", errOne, errBatch)
		}
		if errOne == nil {
			checkStatement(t, one, f, served.SHA256)
			checkStatement(t, batch[0], f, served.SHA256)
		}
	}
}
