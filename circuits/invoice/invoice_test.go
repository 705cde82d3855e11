package invoice

import (
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"

	"github.com/proofmill/proofmill/circuits/input"
)

const examplePath = "../../examples/invoice-consistency.json"

func example(t *testing.T) Statement {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatalf("parse example: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("example breaks a rule: %v", err)
	}
	return *s
}

func checkOptions(extra ...test.TestingOption) []test.TestingOption {
	return append([]test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing()}, extra...)
}

// The valid example satisfies the circuit: the natively derived commitments
// and nullifier equal the in-circuit ones.
func TestValidStatement(t *testing.T) {
	s := example(t)
	test.NewAssert(t).CheckCircuit(&Circuit{}, checkOptions(test.WithValidAssignment(s.Assignment().Witness))...)
}

func n(x int64) *big.Int { return big.NewInt(x) }

// documents are the fields every version shares, so one table of broken
// rules serves them all.
type documents struct {
	inv                          *InvoiceDoc
	bol                          *BillOfLadingDoc
	cus                          *CustomsDoc
	toleranceBps, shipWindowDays **big.Int
}

func (s *Statement) documents() documents {
	return documents{&s.Invoice, &s.BillOfLading, &s.Customs, &s.ToleranceBps, &s.ShipWindowDays}
}

// ruleBreaks each break exactly one of the rules every version shares.
var ruleBreaks = []struct {
	rule   string
	break_ func(d documents)
}{
	{RuleAmount, func(d documents) { d.inv.Amount = new(big.Int).Add(d.inv.Amount, n(1)) }},
	{RuleGoodsCode, func(d documents) { d.bol.GoodsCode = n(8517610000) }},
	{RuleGoodsCode, func(d documents) { d.cus.GoodsCode = n(8517610000) }},
	{RuleQuantity, func(d documents) { d.bol.Quantity = n(1100) }},
	{RuleQuantity, func(d documents) { d.cus.Quantity = n(1100) }},
	{RuleSeller, func(d documents) { d.bol.Shipper = n(5493002) }},
	{RuleSeller, func(d documents) { d.cus.Exporter = n(5493002) }},
	{RuleBuyer, func(d documents) { d.bol.Consignee = n(7740022) }},
	{RuleBuyer, func(d documents) { d.cus.Importer = n(7740022) }},
	{RuleCurrency, func(d documents) { d.cus.Currency = n(978) }},
	{RuleDeclaredValue, func(d documents) { d.cus.DeclaredValue = n(2_700_000) }}, // 4.3% low
	{RuleDeclaredValue, func(d documents) { d.cus.DeclaredValue = n(2_840_000) }}, // 0.7% high
	{RuleDateOrder, func(d documents) { d.cus.Date = new(big.Int).Sub(d.inv.IssueDate, n(1)) }},
	{RuleDateOrder, func(d documents) { d.bol.ShipDate = new(big.Int).Sub(d.cus.Date, n(1)) }},
	{RuleShipWindow, func(d documents) { *d.shipWindowDays = n(6) }}, // shipped 7 days after issue
}

// Each case breaks exactly one rule: the native check names it, and the
// circuit rejects the witness.
func TestEachRuleIsEnforced(t *testing.T) {
	for _, c := range ruleBreaks {
		t.Run(c.rule, func(t *testing.T) {
			s := example(t)
			c.break_(s.documents())
			checkRule(t, s.Check(), c.rule)
			test.NewAssert(t).CheckCircuit(&Circuit{}, checkOptions(test.WithInvalidAssignment(s.Assignment().Witness))...)
		})
	}
}

// checkRule fails unless err is a RuleError naming rule.
func checkRule(t *testing.T, err error, rule string) {
	t.Helper()
	var re *input.RuleError
	if !errors.As(err, &re) || re.Rule != rule {
		t.Fatalf("native check: got %v, want rule %s", err, rule)
	}
}

// Claimed public values that do not open are rejected natively and in-circuit.
func TestCommitmentsAndNullifierMustOpen(t *testing.T) {
	cases := []struct {
		rule string
		set  func(c *Circuit, p *Public, wrong *big.Int)
	}{
		{RuleInvoiceCommitment, func(c *Circuit, p *Public, w *big.Int) { c.InvoiceCommitment, p.InvoiceCommitment = w, w }},
		{RuleBillOfLadingCommitment, func(c *Circuit, p *Public, w *big.Int) { c.BillOfLadingCommitment, p.BillOfLadingCommitment = w, w }},
		{RuleCustomsCommitment, func(c *Circuit, p *Public, w *big.Int) { c.CustomsCommitment, p.CustomsCommitment = w, w }},
		{RuleNullifier, func(c *Circuit, p *Public, w *big.Int) { c.Nullifier, p.Nullifier = w, w }},
		{RuleShipmentNullifier, func(c *Circuit, p *Public, w *big.Int) { c.ShipmentNullifier, p.ShipmentNullifier = w, w }},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			s := example(t)
			w := s.Assignment().Witness.(*Circuit)
			c.set(w, &s.Claimed, n(12345))
			checkRule(t, s.Check(), c.rule)
			test.NewAssert(t).CheckCircuit(&Circuit{}, checkOptions(test.WithInvalidAssignment(w))...)
		})
	}
}

// Values outside their declared width, including field wrap-around (p - x as
// a "negative" number), are rejected by the circuit even when every equation
// would otherwise hold modulo p.
func TestOutOfRangeValuesAreRejected(t *testing.T) {
	for _, c := range rangeBreaks {
		t.Run(c.name, func(t *testing.T) {
			s := example(t)
			w := s.Assignment().Witness.(*Circuit)
			c.set(witnessDocuments{&w.Invoice, &w.BillOfLading, &w.Customs, &w.ToleranceBps, &w.ShipWindowDays})
			// Recommit, so the only broken rule is the range.
			recommit(w)
			test.NewAssert(t).CheckCircuit(&Circuit{}, checkOptions(test.WithInvalidAssignment(w))...)
		})
	}
}

// witnessDocuments are the witness's fields every version shares.
type witnessDocuments struct {
	inv                          *Invoice
	bol                          *BillOfLading
	cus                          *Customs
	toleranceBps, shipWindowDays *frontend.Variable
}

var (
	pMinus = func(x int64) *big.Int { return new(big.Int).Sub(fr.Modulus(), n(x)) }
	two64  = new(big.Int).Lsh(n(1), 64)
)

// rangeBreaks each put one shared field outside its width.
var rangeBreaks = []struct {
	name string
	set  func(c witnessDocuments)
}{
	{"quantity 2^64 on all documents", func(c witnessDocuments) {
		q := two64
		c.inv.Quantity, c.bol.Quantity, c.cus.Quantity = q, q, q
		c.inv.UnitPrice = n(1)
		c.inv.Amount, c.cus.DeclaredValue = q, q
	}},
	{"negative unit price p-5", func(c witnessDocuments) {
		c.inv.UnitPrice = pMinus(5)
		amount := new(big.Int).Mul(n(1200), pMinus(5))
		amount.Mod(amount, fr.Modulus())
		c.inv.Amount, c.cus.DeclaredValue = amount, amount
	}},
	{"negative amount p-1 with negative price", func(c witnessDocuments) {
		c.inv.Quantity, c.bol.Quantity, c.cus.Quantity = n(1), n(1), n(1)
		c.inv.UnitPrice, c.inv.Amount, c.cus.DeclaredValue = pMinus(1), pMinus(1), pMinus(1)
	}},
	{"tolerance p-1", func(c witnessDocuments) { *c.toleranceBps = pMinus(1) }},
	{"tolerance above 10000 bps", func(c witnessDocuments) { *c.toleranceBps = n(10001) }},
	{"ship window p-1", func(c witnessDocuments) { *c.shipWindowDays = pMinus(1) }},
	{"issue date p-1", func(c witnessDocuments) { c.inv.IssueDate = pMinus(1) }},
	{"currency 2^16", func(c witnessDocuments) { c.inv.Currency, c.cus.Currency = n(1<<16), n(1<<16) }},
}

// recommit recomputes the public commitments of an edited witness.
func recommit(c *Circuit) {
	b := func(v frontend.Variable) *big.Int { return new(big.Int).Mod(v.(*big.Int), fr.Modulus()) }
	s := Statement{
		Invoice: InvoiceDoc{b(c.Invoice.Number), b(c.Invoice.Seller), b(c.Invoice.Buyer), b(c.Invoice.GoodsCode),
			b(c.Invoice.Quantity), b(c.Invoice.UnitPrice), b(c.Invoice.Amount), b(c.Invoice.Currency),
			b(c.Invoice.IssueDate), b(c.Invoice.Salt)},
		BillOfLading: BillOfLadingDoc{b(c.BillOfLading.Number), b(c.BillOfLading.Shipper), b(c.BillOfLading.Consignee),
			b(c.BillOfLading.GoodsCode), b(c.BillOfLading.Quantity), b(c.BillOfLading.ShipDate), b(c.BillOfLading.Salt)},
		Customs: CustomsDoc{b(c.Customs.Number), b(c.Customs.Exporter), b(c.Customs.Importer), b(c.Customs.GoodsCode),
			b(c.Customs.Quantity), b(c.Customs.DeclaredValue), b(c.Customs.Currency), b(c.Customs.Date), b(c.Customs.Salt)},
	}
	d := s.Derive()
	c.InvoiceCommitment, c.BillOfLadingCommitment, c.CustomsCommitment, c.Nullifier, c.ShipmentNullifier =
		d.InvoiceCommitment, d.BillOfLadingCommitment, d.CustomsCommitment, d.Nullifier, d.ShipmentNullifier
}

// The recommit helper itself must produce a valid witness for valid documents,
// otherwise the range tests above would pass for the wrong reason.
func TestRecommitKeepsValidWitnessValid(t *testing.T) {
	s := example(t)
	w := s.Assignment().Witness.(*Circuit)
	w.InvoiceCommitment = n(1)
	recommit(w)
	test.NewAssert(t).CheckCircuit(&Circuit{}, checkOptions(test.WithValidAssignment(w))...)
}

// Each kind of bad JSON gets its own error kind and names the field.
func TestParseErrors(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	cases := []struct {
		name, json string
		kind       error
		mention    string
	}{
		{"malformed", good[:len(good)/2], input.ErrMalformed, "unexpected end"},
		{"not an object", `[1,2]`, input.ErrInvalidValue, "(document)"},
		{"trailing data", good + "{}", input.ErrMalformed, "after the document"},
		{"unknown field", strings.Replace(good, `"buyer"`, `"buyr"`, 1), input.ErrUnknownField, "buyr"},
		{"missing field", strings.Replace(good, `"quantity": 1200,`, ``, 1), input.ErrMissingField, "invoice.quantity"},
		{"not a number", strings.Replace(good, `"unit_price": "2350"`, `"unit_price": "23.50"`, 1), input.ErrInvalidValue, "invoice.unit_price"},
		{"negative", strings.Replace(good, `"amount": "2820000"`, `"amount": "-2820000"`, 1), input.ErrOutOfRange, "invoice.amount"},
		{"too wide", strings.Replace(good, `"unit_price": "2350"`, `"unit_price": "18446744073709551616"`, 1), input.ErrOutOfRange, "invoice.unit_price"},
		{"salt not below modulus", strings.Replace(good, `"number": "88100451"`, `"number": "88100451", "salt_": 1`, 1), input.ErrUnknownField, "salt_"},
		{"bad date", strings.Replace(good, `"2026-03-09"`, `"2026-02-30"`, 1), input.ErrInvalidValue, "bill_of_lading.ship_date"},
		{"tolerance above max", strings.Replace(good, `"tolerance_bps": 50`, `"tolerance_bps": 10001`, 1), input.ErrOutOfRange, "public.tolerance_bps"},
		{"too large", strings.Repeat(" ", input.MaxDocumentBytes+1), input.ErrTooLarge, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.json == good {
				t.Fatal("test case did not change the document")
			}
			_, err := Assign([]byte(c.json))
			if !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want kind %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

func TestSaltMustBeBelowModulus(t *testing.T) {
	data, _ := os.ReadFile(examplePath)
	s := example(t)
	bad := strings.Replace(string(data), s.Invoice.Salt.String(), fr.Modulus().String(), 1)
	if _, err := Parse([]byte(bad)); !errors.Is(err, input.ErrOutOfRange) || !strings.Contains(err.Error(), "invoice.salt") {
		t.Fatalf("got %v", err)
	}
}

// The message a client sees names the documents and values at odds.
func TestRuleMessagesNameTheDocuments(t *testing.T) {
	s := example(t)
	s.BillOfLading.Quantity = n(90)
	s.Invoice.Quantity, s.Customs.Quantity = n(100), n(100)
	s.Invoice.Amount = new(big.Int).Mul(n(100), s.Invoice.UnitPrice)
	s.Customs.DeclaredValue = s.Invoice.Amount
	err := s.Check()
	const want = "rule quantity: bill of lading quantity 90 differs from invoice quantity 100"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}
