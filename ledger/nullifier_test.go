package ledger_test

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/ledger"
)

// statement is an invoice statement with nullifier values a and b.
func statement(a, b int64) *ledger.Statement {
	return &ledger.Statement{Circuit: invoiceID, Nullifiers: []ledger.Nullifier{
		{Circuit: invoiceID, Name: "nullifier", Value: big.NewInt(a)},
		{Circuit: invoiceID, Name: "shipment_nullifier", Value: big.NewInt(b)},
	}}
}

func TestAccept(t *testing.T) {
	ctx := context.Background()
	var set ledger.MemoryNullifiers
	if err := ledger.Accept(ctx, &set, statement(1, 2)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		batch      []*ledger.Statement
		want       *ledger.NullifierUsedError // nil: accepted
		recordedTo int                        // set.Len() after
	}{
		{"the same statement again", []*ledger.Statement{statement(1, 2)}, &ledger.NullifierUsedError{Nullifier: ledger.Nullifier{Name: "nullifier"}, Statement: 0, Earlier: -1}, 2},
		{"a used shipment nullifier", []*ledger.Statement{statement(3, 2)}, &ledger.NullifierUsedError{Nullifier: ledger.Nullifier{Name: "shipment_nullifier"}, Statement: 0, Earlier: -1}, 2},
		{"a used one after a new one", []*ledger.Statement{statement(5, 6), statement(1, 7)}, &ledger.NullifierUsedError{Nullifier: ledger.Nullifier{Name: "nullifier"}, Statement: 1, Earlier: -1}, 2},
		{"twice in the batch", []*ledger.Statement{statement(8, 9), statement(10, 11), statement(8, 12)}, &ledger.NullifierUsedError{Nullifier: ledger.Nullifier{Name: "nullifier"}, Statement: 2, Earlier: 0}, 2},
		{"new ones", []*ledger.Statement{statement(5, 6), statement(7, 8)}, nil, 6},
		// A value identifies a nullifier whatever its name (real ones
		// differ by domain tag; v2's invoice nullifier is v1's on purpose).
		{"a value used under the other name", []*ledger.Statement{statement(2, 13)}, &ledger.NullifierUsedError{Nullifier: ledger.Nullifier{Name: "nullifier"}, Statement: 0, Earlier: -1}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ledger.Accept(ctx, &set, tc.batch...)
			t.Log(err)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var e *ledger.NullifierUsedError
				if !errors.As(err, &e) || !errors.Is(err, ledger.ErrNullifierUsed) {
					t.Fatalf("got %v, want a NullifierUsedError", err)
				}
				if e.Nullifier.Name != tc.want.Nullifier.Name || e.Statement != tc.want.Statement || e.Earlier != tc.want.Earlier {
					t.Fatalf("got %s in statement %d (earlier %d), want %s in %d (earlier %d)",
						e.Nullifier.Name, e.Statement, e.Earlier, tc.want.Nullifier.Name, tc.want.Statement, tc.want.Earlier)
				}
			}
			if n := set.Len(); n != tc.recordedTo {
				t.Fatalf("%d nullifiers recorded, want %d", n, tc.recordedTo)
			}
		})
	}
}

// Of many concurrent Accepts of one statement, exactly one succeeds.
func TestAcceptConcurrently(t *testing.T) {
	var set ledger.MemoryNullifiers
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ledger.Accept(context.Background(), &set, statement(1, 2))
			switch {
			case err == nil:
				accepted.Add(1)
			case !errors.Is(err, ledger.ErrNullifierUsed):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d accepted, want 1", n)
	}
}

// failingSet is a store that cannot answer, or answers the wrong number.
type failingSet struct {
	usedErr error
	answers int
	added   bool
}

func (s *failingSet) Used(_ context.Context, ns []ledger.Nullifier) ([]bool, error) {
	return make([]bool, s.answers), s.usedErr
}

func (s *failingSet) Add(context.Context, []ledger.Nullifier) error {
	s.added = true
	return nil
}

// A store's failure stops Accept before it adds anything.
func TestAcceptStoreFailures(t *testing.T) {
	down := errors.New("store down")
	for _, tc := range []struct {
		name string
		set  *failingSet
		want error
	}{
		{"store error", &failingSet{usedErr: down, answers: 2}, down},
		{"too few answers", &failingSet{answers: 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ledger.Accept(context.Background(), tc.set, statement(1, 2))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || errors.Is(err, ledger.ErrNullifierUsed) {
				t.Fatalf("got %v, want a store failure", err)
			}
			if tc.set.added {
				t.Fatal("Accept added nullifiers after the store failed")
			}
		})
	}
}

func TestNullifierKey(t *testing.T) {
	n := ledger.Nullifier{Circuit: invoiceID, Name: "nullifier", Value: big.NewInt(42)}
	if got, want := n.Key(), "nullifier/42"; got != want {
		t.Fatalf("Key() = %q, want %q", got, want)
	}
}

// An invoice financed under v1 is refused under v2: v2's invoice
// nullifier is v1's, and a set keys nullifiers by value.
func TestAcceptAcrossVersions(t *testing.T) {
	statement := func(id, example string) *ledger.Statement {
		c, err := circuits.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		data, err := examples.Read(example)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Assign(data)
		if err != nil {
			t.Fatal(err)
		}
		s := &ledger.Statement{Circuit: id}
		for _, p := range a.Public {
			if slices.Contains(c.Nullifiers, p.Name) {
				s.Nullifiers = append(s.Nullifiers, ledger.Nullifier{Circuit: id, Name: p.Name, Value: p.Value})
			}
		}
		return s
	}
	var set ledger.MemoryNullifiers
	if err := ledger.Accept(context.Background(), &set, statement("invoice-consistency/v1", "invoice-consistency.json")); err != nil {
		t.Fatal(err)
	}
	err := ledger.Accept(context.Background(), &set, statement("invoice-consistency/v2", "invoice-consistency-v2.json"))
	var used *ledger.NullifierUsedError
	if !errors.As(err, &used) || used.Nullifier.Name != "invoice_nullifier" || used.Earlier != -1 {
		t.Fatalf("the same invoice under v2: got %v, want invoice_nullifier used before", err)
	}
	if set.Len() != 2 {
		t.Fatalf("%d nullifiers recorded, want v1's two", set.Len())
	}
}
