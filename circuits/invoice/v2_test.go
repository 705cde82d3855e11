package invoice

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/test"

	"github.com/proofmill/proofmill/circuits/input"
)

const exampleV2Path = "../../examples/invoice-consistency-v2.json"

func exampleV2(t *testing.T) StatementV2 {
	t.Helper()
	data, err := os.ReadFile(exampleV2Path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseV2(data)
	if err != nil {
		t.Fatalf("parse example: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("example breaks a rule: %v", err)
	}
	return *s
}

func (s *StatementV2) documents() documents {
	return documents{&s.Invoice, &s.BillOfLading.BillOfLadingDoc, &s.Customs.CustomsDoc, &s.ToleranceBps, &s.ShipWindowDays}
}

// v1's constraint system is pinned byte for byte, not only by count: v2
// shares its rules, and sharing must not move a single constraint, or
// every v1 key in use would stop matching.
func TestV1ConstraintSystemUnchanged(t *testing.T) {
	const want = "4c5e46f694a122b27d7a909146d76662dd8ddf6bf045349f3adacca1d336233a"
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &Circuit{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := ccs.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("invoice-consistency/v1's R1CS is %s, was %s: v1 changed, and its keys with it", got, want)
	}
}

func TestV2ValidStatement(t *testing.T) {
	s := exampleV2(t)
	test.NewAssert(t).CheckCircuit(&CircuitV2{}, checkOptions(test.WithValidAssignment(s.Assignment().Witness))...)
}

// v2 enforces every rule v1 does.
func TestV2EachRuleIsEnforced(t *testing.T) {
	for _, c := range ruleBreaks {
		t.Run(c.rule, func(t *testing.T) {
			s := exampleV2(t)
			c.break_(s.documents())
			checkRule(t, s.Check(), c.rule)
			test.NewAssert(t).CheckCircuit(&CircuitV2{}, checkOptions(test.WithInvalidAssignment(s.Assignment().Witness))...)
		})
	}
}

// Claimed commitments and nullifiers that do not open are rejected
// natively and in-circuit.
func TestV2CommitmentsAndNullifiersMustOpen(t *testing.T) {
	cases := []struct {
		rule string
		set  func(c *CircuitV2, p *PublicV2, wrong *big.Int)
	}{
		{RuleInvoiceCommitment, func(c *CircuitV2, p *PublicV2, w *big.Int) { c.InvoiceCommitment, p.InvoiceCommitment = w, w }},
		{RuleBillOfLadingCommitment, func(c *CircuitV2, p *PublicV2, w *big.Int) { c.BillOfLadingCommitment, p.BillOfLadingCommitment = w, w }},
		{RuleCustomsCommitment, func(c *CircuitV2, p *PublicV2, w *big.Int) { c.CustomsCommitment, p.CustomsCommitment = w, w }},
		{RuleInvoiceNullifier, func(c *CircuitV2, p *PublicV2, w *big.Int) { c.InvoiceNullifier, p.InvoiceNullifier = w, w }},
		{RuleBillOfLadingNullifier, func(c *CircuitV2, p *PublicV2, w *big.Int) { c.BillOfLadingNullifier, p.BillOfLadingNullifier = w, w }},
		{RuleCustomsNullifier, func(c *CircuitV2, p *PublicV2, w *big.Int) { c.CustomsNullifier, p.CustomsNullifier = w, w }},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			s := exampleV2(t)
			w := s.Assignment().Witness.(*CircuitV2)
			c.set(w, &s.Claimed, n(12345))
			checkRule(t, s.Check(), c.rule)
			test.NewAssert(t).CheckCircuit(&CircuitV2{}, checkOptions(test.WithInvalidAssignment(w))...)
		})
	}
}

// The commitments bind the issuers: a bill of lading or declaration whose
// carrier or office is changed after the issuer committed no longer opens,
// so a seller cannot move a bill to another carrier to dodge its nullifier.
func TestV2CommitmentsBindTheIssuers(t *testing.T) {
	for name, set := range map[string]func(s *StatementV2){
		"carrier": func(s *StatementV2) { s.BillOfLading.Carrier = n(9010043) },
		"office":  func(s *StatementV2) { s.Customs.Office = n(2200184) },
	} {
		t.Run(name, func(t *testing.T) {
			s := exampleV2(t)
			committed := s.Assignment().Witness.(*CircuitV2)
			set(&s)
			w := s.Assignment().Witness.(*CircuitV2)
			w.InvoiceCommitment, w.BillOfLadingCommitment, w.CustomsCommitment =
				committed.InvoiceCommitment, committed.BillOfLadingCommitment, committed.CustomsCommitment
			test.NewAssert(t).CheckCircuit(&CircuitV2{}, checkOptions(test.WithInvalidAssignment(w))...)
		})
	}
}

// Values outside their width, the issuers' included, are rejected even
// when every equation would hold modulo p.
func TestV2OutOfRangeValuesAreRejected(t *testing.T) {
	cases := append([]struct {
		name string
		set  func(c witnessDocuments)
	}{}, rangeBreaks...)
	v2 := map[string]func(w *CircuitV2){
		"carrier p-1":  func(w *CircuitV2) { w.BillOfLading.Carrier = pMinus(1) },
		"carrier 2^64": func(w *CircuitV2) { w.BillOfLading.Carrier = two64 },
		"office p-1":   func(w *CircuitV2) { w.Customs.Office = pMinus(1) },
		"office 2^64":  func(w *CircuitV2) { w.Customs.Office = two64 },
	}
	run := func(name string, set func(w *CircuitV2)) {
		t.Run(name, func(t *testing.T) {
			s := exampleV2(t)
			w := s.Assignment().Witness.(*CircuitV2)
			set(w)
			recommitV2(w) // so the only broken rule is the range
			test.NewAssert(t).CheckCircuit(&CircuitV2{}, checkOptions(test.WithInvalidAssignment(w))...)
		})
	}
	for _, c := range cases {
		run(c.name, func(w *CircuitV2) {
			c.set(witnessDocuments{&w.Invoice, &w.BillOfLading.BillOfLading, &w.Customs.Customs, &w.ToleranceBps, &w.ShipWindowDays})
		})
	}
	for name, set := range v2 {
		run(name, set)
	}
}

// recommitV2 recomputes the public commitments and nullifiers of an edited
// witness.
func recommitV2(c *CircuitV2) {
	b := func(v frontend.Variable) *big.Int { return new(big.Int).Mod(v.(*big.Int), fr.Modulus()) }
	inv, bol, cus := &c.Invoice, &c.BillOfLading, &c.Customs
	s := StatementV2{
		Invoice: InvoiceDoc{b(inv.Number), b(inv.Seller), b(inv.Buyer), b(inv.GoodsCode), b(inv.Quantity),
			b(inv.UnitPrice), b(inv.Amount), b(inv.Currency), b(inv.IssueDate), b(inv.Salt)},
		BillOfLading: BillOfLadingDocV2{BillOfLadingDoc{b(bol.Number), b(bol.Shipper), b(bol.Consignee),
			b(bol.GoodsCode), b(bol.Quantity), b(bol.ShipDate), b(bol.Salt)}, b(bol.Carrier)},
		Customs: CustomsDocV2{CustomsDoc{b(cus.Number), b(cus.Exporter), b(cus.Importer), b(cus.GoodsCode),
			b(cus.Quantity), b(cus.DeclaredValue), b(cus.Currency), b(cus.Date), b(cus.Salt)}, b(cus.Office)},
	}
	d := s.Derive()
	c.InvoiceCommitment, c.BillOfLadingCommitment, c.CustomsCommitment = d.InvoiceCommitment, d.BillOfLadingCommitment, d.CustomsCommitment
	c.InvoiceNullifier, c.BillOfLadingNullifier, c.CustomsNullifier = d.InvoiceNullifier, d.BillOfLadingNullifier, d.CustomsNullifier
}

func TestRecommitV2KeepsValidWitnessValid(t *testing.T) {
	s := exampleV2(t)
	w := s.Assignment().Witness.(*CircuitV2)
	w.CustomsNullifier = n(1)
	recommitV2(w)
	test.NewAssert(t).CheckCircuit(&CircuitV2{}, checkOptions(test.WithValidAssignment(w))...)
}

// The financing policy v2 exists for: each way of financing one shipment
// twice repeats exactly the nullifier of the document reused, and two
// carriers' bills with the same number repeat nothing.
func TestV2NullifierPolicy(t *testing.T) {
	reinvoice := func(s *StatementV2) { s.Invoice.Number = n(20260302118) }
	newDeclaration := func(s *StatementV2) { s.Customs.Number = n(120220260399) }
	newBill := func(s *StatementV2) { s.BillOfLading.Number = n(88100452) }
	cases := []struct {
		name    string
		second  []func(s *StatementV2)
		repeats []string // the nullifiers the second financing shares with the first
	}{
		{"the same invoice again", nil, NullifiersV2},
		{"the shipment re-invoiced", []func(*StatementV2){reinvoice}, []string{"bill_of_lading_nullifier", "customs_nullifier"}},
		{"the bill of lading reused with a new declaration and invoice", []func(*StatementV2){reinvoice, newDeclaration}, []string{"bill_of_lading_nullifier"}},
		{"the declaration reused with a new bill and invoice", []func(*StatementV2){reinvoice, newBill}, []string{"customs_nullifier"}},
		{"another carrier's bill with the same number", []func(*StatementV2){reinvoice, newDeclaration,
			func(s *StatementV2) { s.BillOfLading.Carrier = n(9010077) }}, nil},
		{"another office's declaration with the same number", []func(*StatementV2){reinvoice, newBill,
			func(s *StatementV2) { s.Customs.Office = n(2200999) }}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first, second := exampleV2(t), exampleV2(t)
			for _, edit := range c.second {
				edit(&second)
			}
			if err := second.Check(); err != nil {
				t.Fatalf("the second financing's documents break a rule: %v", err)
			}
			a, b := publicByName(first.Assignment()), publicByName(second.Assignment())
			var repeats []string
			for _, name := range NullifiersV2 {
				if a[name].Cmp(b[name]) == 0 {
					repeats = append(repeats, name)
				}
			}
			if strings.Join(repeats, ",") != strings.Join(c.repeats, ",") {
				t.Fatalf("repeated nullifiers %v, want %v", repeats, c.repeats)
			}
		})
	}
}

// The gap v2 closes: under v1, a bill of lading reused with a new
// declaration and a new invoice number repeats neither nullifier.
func TestV1MissesAReusedBillOfLading(t *testing.T) {
	first, second := example(t), example(t)
	second.Invoice.Number, second.Customs.Number = n(20260302118), n(120220260399)
	a, b := first.Derive(), second.Derive()
	if a.Nullifier.Cmp(b.Nullifier) == 0 || a.ShipmentNullifier.Cmp(b.ShipmentNullifier) == 0 {
		t.Fatal("v1 repeats a nullifier for a reused bill of lading; the v2 policy test's premise is wrong")
	}
}

// A v2 invoice nullifier is v1's for the same invoice, so a ledger that
// accepts both versions sees one invoice financed under each.
func TestInvoiceNullifierIsSharedWithV1(t *testing.T) {
	v1, v2 := example(t), exampleV2(t)
	if v1.Derive().Nullifier.Cmp(v2.Derive().InvoiceNullifier) != 0 {
		t.Fatal("v2's invoice nullifier differs from v1's for the same invoice")
	}
	// The issuer-bearing documents commit differently from v1's.
	if v1.Derive().BillOfLadingCommitment.Cmp(v2.Derive().BillOfLadingCommitment) == 0 {
		t.Fatal("v2's bill of lading commitment equals v1's though it commits to the carrier")
	}
}

func publicByName(a *input.Assignment) map[string]*big.Int {
	m := map[string]*big.Int{}
	for _, p := range a.Public {
		m[p.Name] = p.Value
	}
	return m
}

// The issuers are required fields, and a v1 document is not a v2 one.
func TestV2ParseErrors(t *testing.T) {
	data, err := os.ReadFile(exampleV2Path)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	cases := []struct {
		name, json string
		kind       error
		mention    string
	}{
		{"no carrier", strings.Replace(good, `"carrier": "9010042",`, ``, 1), input.ErrMissingField, "bill_of_lading.carrier"},
		{"no office", strings.Replace(good, `"office": "2200183",`, ``, 1), input.ErrMissingField, "customs_declaration.office"},
		{"a v1 document", string(v1), input.ErrMissingField, "bill_of_lading.carrier"},
		{"carrier too wide", strings.Replace(good, `"carrier": "9010042"`, `"carrier": "18446744073709551616"`, 1), input.ErrOutOfRange, "bill_of_lading.carrier"},
		{"office negative", strings.Replace(good, `"office": "2200183"`, `"office": "-1"`, 1), input.ErrOutOfRange, "customs_declaration.office"},
		{"v1's nullifier name", strings.Replace(good, `"ship_window_days": 30`, `"ship_window_days": 30, "nullifier": "1"`, 1), input.ErrUnknownField, "nullifier"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.json == good {
				t.Fatal("test case did not change the document")
			}
			_, err := AssignV2([]byte(c.json))
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("got %v, want kind %v mentioning %q", err, c.kind, c.mention)
			}
		})
	}
	// And v1 refuses a v2 document, naming the field it does not know.
	if _, err := Assign(data); !errors.Is(err, input.ErrUnknownField) || !strings.Contains(err.Error(), "carrier") {
		t.Fatalf("v1 on a v2 document: got %v", err)
	}
}
