package contracts_test

import (
	"math/big"
	"testing"

	"github.com/proofmill/proofmill/internal/testinput"
)

// invoice-consistency/v2's nullifiers: one per document, public inputs 5–7.
var v2Nullifiers = []struct {
	name  string
	input int
}{{"invoice", 5}, {"bill-of-lading", 6}, {"customs", 7}}

// v2Doc is the v2 example with its numbers raised: the invoice's by inv,
// the bill's by bill, the declaration's by decl, the carrier's by carrier.
func v2Doc(t *testing.T, inv, bill, decl, carrier int) []byte {
	d := testinput.Example(t, "invoice-consistency-v2.json")
	d.Set("invoice.number", d.Add("invoice.number", inv))
	d.Set("bill_of_lading.number", d.Add("bill_of_lading.number", bill))
	d.Set("customs_declaration.number", d.Add("customs_declaration.number", decl))
	d.Set("bill_of_lading.carrier", d.Add("bill_of_lading.carrier", carrier))
	return []byte(d.JSON())
}

// A FinancingRegistry over invoice-consistency/v2's three nullifiers
// refuses each way of financing one shipment twice, naming the document
// reused, and finances another carrier's bill that has the same number.
func TestFinancingRegistryV2(t *testing.T) {
	const id, verifier = "invoice-consistency/v2", "InvoiceConsistencyV2Verifier"
	c := newChain(t)
	v, _ := c.deploy(verifier)
	positions, names := []*big.Int{}, []string{}
	for _, n := range v2Nullifiers {
		positions, names = append(positions, big.NewInt(int64(n.input))), append(names, n.name)
	}
	reg, gas := c.deploy(financing, v, big.NewInt(8), positions, names)
	t.Logf("gas: v2 registry deploy %d", gas)
	finance := func(p evmProof) []byte { return c.pack(financing, "finance", p.proof, p.input) }

	first := prove(t, id, v2Doc(t, 0, 0, 0, 0))
	rc := c.send(financing, reg, finance(first))
	t.Logf("gas: v2 finance %d", rc.GasUsed)

	for _, s := range []struct {
		what   string
		doc    []byte
		reused int // index into v2Nullifiers of the first nullifier repeated
	}{
		{"the same documents", v2Doc(t, 0, 0, 0, 0), 0},
		{"the shipment re-invoiced", v2Doc(t, 1, 0, 0, 0), 1},
		{"the bill of lading with a new declaration and invoice", v2Doc(t, 2, 0, 1, 0), 1},
		{"the declaration with a new bill and invoice", v2Doc(t, 3, 1, 0, 0), 2},
	} {
		t.Run(s.what, func(t *testing.T) {
			c.t = t
			p := prove(t, id, s.doc)
			n := v2Nullifiers[s.reused]
			if rv := c.reverts(financing, reg, finance(p)); !rv.is("NullifierUsed", n.name, big.NewInt(int64(n.input)), first.input[n.input], big.NewInt(1)) {
				t.Fatalf("got %s, want NullifierUsed(%s, %d, %v, 1)", rv, n.name, n.input, first.input[n.input])
			}
		})
	}
	t.Run("another carrier's bill with the same number is financed", func(t *testing.T) {
		c.t = t
		p := prove(t, id, v2Doc(t, 4, 0, 2, 1))
		if p.input[6].Cmp(first.input[6]) == 0 {
			t.Fatal("another carrier's bill has the first bill's nullifier")
		}
		c.send(financing, reg, finance(p))
	})
	if n := c.call(financing, reg, "financings")[0].(*big.Int).Int64(); n != 2 {
		t.Fatalf("financings = %d, want 2", n)
	}
}
