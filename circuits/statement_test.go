package circuits_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/internal/testinput"
)

// Admission encodes the witness once; the job key is the same for every
// spelling of one statement and differs between statements and circuits.
func TestJobKey(t *testing.T) {
	c, err := circuits.Lookup("invoice-consistency/v1")
	if err != nil {
		t.Fatal(err)
	}
	admit := func(doc string) *circuits.Statement {
		t.Helper()
		st, err := c.Admit([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	doc := testinput.Invoice(t, 0)
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	respelled := testinput.Example(t, "invoice-consistency.json").Set("invoice.quantity", "1200").JSON() // a string, not a number
	a, b, r, other := admit(doc), admit(compact.String()), admit(respelled), admit(testinput.Invoice(t, 1))
	if c.JobKey(a) != c.JobKey(b) || c.JobKey(a) != c.JobKey(r) {
		t.Fatal("one statement, spelled differently, has different keys")
	}
	if c.JobKey(a) == c.JobKey(other) {
		t.Fatal("two statements share a key")
	}
	if len(a.Public) != len(c.PublicInputs) || len(a.Witness) == 0 {
		t.Fatalf("statement: %d public inputs, %d witness bytes", len(a.Public), len(a.Witness))
	}
	pool, _ := circuits.Lookup("abs-pool-16/v1")
	if _, err := pool.Admit([]byte(doc)); !errors.Is(err, input.ErrUnknownField) {
		t.Fatalf("an invoice admitted as a pool: %v", err)
	}
}

// abs-pool-4096 admits the shared abs-pool example (it fits every
// capacity) without proving anything: a statement with the circuit's
// public inputs, a pool root of its own depth, and a schema of 4096 assets.
func TestPool4096AdmitsTheExample(t *testing.T) {
	large, err := circuits.Lookup("abs-pool-4096/v1")
	if err != nil {
		t.Fatal(err)
	}
	if large.Example != "abs-pool.json" || large.Constraints == 0 || !large.KeysOnlyWhenAsked() {
		t.Fatalf("abs-pool-4096/v1: example %q, %d constraints, keys only when asked %v", large.Example, large.Constraints, large.KeysOnlyWhenAsked())
	}
	data := []byte(testinput.Example(t, large.Example).JSON())
	st, err := large.Admit(data)
	if err != nil {
		t.Fatalf("the example: %v", err)
	}
	if len(st.Public) != len(large.PublicInputs) || len(st.Witness) == 0 {
		t.Fatalf("statement: %d public inputs, %d witness bytes", len(st.Public), len(st.Witness))
	}
	smaller, _ := circuits.Lookup("abs-pool-1024/v1")
	other, err := smaller.Admit(data)
	if err != nil {
		t.Fatal(err)
	}
	if large.JobKey(st) == smaller.JobKey(other) || bytes.Equal(st.Witness, other.Witness) {
		t.Fatal("abs-pool-4096 and abs-pool-1024 admit the example as the same statement")
	}
	for _, f := range large.Schema {
		if f.Name == "assets" && f.MaxItems != 4096 {
			t.Fatalf("schema: assets up to %d, want 4096", f.MaxItems)
		}
	}
}
