package invoice

import (
	"math/big"

	"github.com/proofmill/proofmill/circuits/gadget"
	"github.com/proofmill/proofmill/circuits/input"
)

// Rule ids, as named in errors and tests.
const (
	RuleInvoiceCommitment      = "invoice-commitment"
	RuleBillOfLadingCommitment = "bill-of-lading-commitment"
	RuleCustomsCommitment      = "customs-commitment"
	RuleAmount                 = "amount"
	RuleGoodsCode              = "goods-code"
	RuleQuantity               = "quantity"
	RuleSeller                 = "seller"
	RuleBuyer                  = "buyer"
	RuleCurrency               = "currency"
	RuleDeclaredValue          = "declared-value"
	RuleDateOrder              = "date-order"
	RuleShipWindow             = "ship-window"
	RuleNullifier              = "nullifier"
	RuleShipmentNullifier      = "shipment-nullifier"
)

// InvoiceDoc is the seller's invoice, natively.
type InvoiceDoc struct {
	Number, Seller, Buyer, GoodsCode, Quantity, UnitPrice, Amount, Currency, IssueDate, Salt *big.Int
}

func (inv *InvoiceDoc) commitment() *big.Int {
	return gadget.Hash(tagInvoice, inv.Number, inv.Seller, inv.Buyer, inv.GoodsCode,
		inv.Quantity, inv.UnitPrice, inv.Amount, inv.Currency, inv.IssueDate, inv.Salt)
}

func (inv *InvoiceDoc) nullifier() *big.Int { return gadget.Hash(tagNullifier, inv.Seller, inv.Number) }

// BillOfLadingDoc is the carrier's bill of lading, natively.
type BillOfLadingDoc struct {
	Number, Shipper, Consignee, GoodsCode, Quantity, ShipDate, Salt *big.Int
}

// CustomsDoc is the customs declaration, natively.
type CustomsDoc struct {
	Number, Exporter, Importer, GoodsCode, Quantity, DeclaredValue, Currency, Date, Salt *big.Int
}

// Statement is everything the circuit needs: the three documents, the public
// parameters, and the public values derived from them. Claimed values that a
// client supplied (commitments, nullifier) are kept apart so Check can say
// which one is wrong.
type Statement struct {
	Invoice        InvoiceDoc
	BillOfLading   BillOfLadingDoc
	Customs        CustomsDoc
	ToleranceBps   *big.Int
	ShipWindowDays *big.Int

	Claimed Public // nil members were not given
}

// Public are the derived public inputs, besides the two parameters.
type Public struct {
	InvoiceCommitment, BillOfLadingCommitment, CustomsCommitment, Nullifier, ShipmentNullifier *big.Int
}

// Derive computes the commitments and nullifier exactly as the circuit does.
func (s *Statement) Derive() Public {
	inv, bol, cus := &s.Invoice, &s.BillOfLading, &s.Customs
	return Public{
		InvoiceCommitment: inv.commitment(),
		BillOfLadingCommitment: gadget.Hash(tagBillOfLading, bol.Number, bol.Shipper, bol.Consignee,
			bol.GoodsCode, bol.Quantity, bol.ShipDate, bol.Salt),
		CustomsCommitment: gadget.Hash(tagCustoms, cus.Number, cus.Exporter, cus.Importer, cus.GoodsCode,
			cus.Quantity, cus.DeclaredValue, cus.Currency, cus.Date, cus.Salt),
		Nullifier:         inv.nullifier(),
		ShipmentNullifier: gadget.Hash(tagShipment, cus.Exporter, cus.Number, bol.Number),
	}
}

// Check tests every rule natively, so a client learns which rule its
// documents break before any proving. The circuit remains the authority.
func (s *Statement) Check() error { return s.check(s.Derive()) }

// check is Check given the derived values, so that Assign hashes once.
func (s *Statement) check(derived Public) error {
	inv, bol, cus := &s.Invoice, &s.BillOfLading, &s.Customs
	if err := input.CheckClaims(
		input.Claim{Rule: RuleInvoiceCommitment, What: "invoice commitment", Claimed: s.Claimed.InvoiceCommitment, Derived: derived.InvoiceCommitment},
		input.Claim{Rule: RuleBillOfLadingCommitment, What: "bill of lading commitment", Claimed: s.Claimed.BillOfLadingCommitment, Derived: derived.BillOfLadingCommitment},
		input.Claim{Rule: RuleCustomsCommitment, What: "customs declaration commitment", Claimed: s.Claimed.CustomsCommitment, Derived: derived.CustomsCommitment},
		input.Claim{Rule: RuleNullifier, What: "financing nullifier", Claimed: s.Claimed.Nullifier, Derived: derived.Nullifier},
		input.Claim{Rule: RuleShipmentNullifier, What: "shipment nullifier", Claimed: s.Claimed.ShipmentNullifier, Derived: derived.ShipmentNullifier},
	); err != nil {
		return err
	}

	return checkAgreement(inv, bol, cus, s.ToleranceBps, s.ShipWindowDays)
}

// Assignment returns the full witness and the named public inputs. It does
// not check the rules: tests use it to build statements that break one.
func (s *Statement) Assignment() *input.Assignment { return s.assignment(s.Derive()) }

func (s *Statement) assignment(d Public) *input.Assignment {
	inv, bol, cus := &s.Invoice, &s.BillOfLading, &s.Customs
	w := &Circuit{
		InvoiceCommitment:      d.InvoiceCommitment,
		BillOfLadingCommitment: d.BillOfLadingCommitment,
		CustomsCommitment:      d.CustomsCommitment,
		ToleranceBps:           s.ToleranceBps,
		ShipWindowDays:         s.ShipWindowDays,
		Nullifier:              d.Nullifier,
		ShipmentNullifier:      d.ShipmentNullifier,
		Invoice: Invoice{inv.Number, inv.Seller, inv.Buyer, inv.GoodsCode, inv.Quantity, inv.UnitPrice,
			inv.Amount, inv.Currency, inv.IssueDate, inv.Salt},
		BillOfLading: BillOfLading{bol.Number, bol.Shipper, bol.Consignee, bol.GoodsCode, bol.Quantity,
			bol.ShipDate, bol.Salt},
		Customs: Customs{cus.Number, cus.Exporter, cus.Importer, cus.GoodsCode, cus.Quantity,
			cus.DeclaredValue, cus.Currency, cus.Date, cus.Salt},
	}
	values := []*big.Int{d.InvoiceCommitment, d.BillOfLadingCommitment, d.CustomsCommitment,
		s.ToleranceBps, s.ShipWindowDays, d.Nullifier, d.ShipmentNullifier}
	public := make([]input.PublicInput, len(PublicInputs))
	for i, name := range PublicInputs {
		public[i] = input.PublicInput{Name: name, Value: values[i]}
	}
	return &input.Assignment{Witness: w, Public: public}
}

// PublicInputs names the public inputs in circuit order.
var PublicInputs = []string{
	"invoice_commitment", "bill_of_lading_commitment", "customs_commitment",
	"tolerance_bps", "ship_window_days", "nullifier", "shipment_nullifier",
}

// checkAgreement tests, natively, the rules every version shares (see
// assertAgreement), in the same words.
func checkAgreement(inv *InvoiceDoc, bol *BillOfLadingDoc, cus *CustomsDoc, toleranceBps, shipWindowDays *big.Int) error {
	if product := new(big.Int).Mul(inv.Quantity, inv.UnitPrice); product.Cmp(inv.Amount) != 0 {
		return input.Rule(RuleAmount, "invoice amount %s differs from quantity %s × unit price %s = %s",
			inv.Amount, inv.Quantity, inv.UnitPrice, product)
	}
	for _, c := range []struct {
		rule, field, doc string
		got, want        *big.Int
		wantField        string
	}{
		{RuleGoodsCode, "goods code", "bill of lading", bol.GoodsCode, inv.GoodsCode, "invoice goods code"},
		{RuleGoodsCode, "goods code", "customs declaration", cus.GoodsCode, inv.GoodsCode, "invoice goods code"},
		{RuleQuantity, "quantity", "bill of lading", bol.Quantity, inv.Quantity, "invoice quantity"},
		{RuleQuantity, "quantity", "customs declaration", cus.Quantity, inv.Quantity, "invoice quantity"},
		{RuleSeller, "shipper", "bill of lading", bol.Shipper, inv.Seller, "invoice seller"},
		{RuleSeller, "exporter", "customs declaration", cus.Exporter, inv.Seller, "invoice seller"},
		{RuleBuyer, "consignee", "bill of lading", bol.Consignee, inv.Buyer, "invoice buyer"},
		{RuleBuyer, "importer", "customs declaration", cus.Importer, inv.Buyer, "invoice buyer"},
		{RuleCurrency, "currency", "customs declaration", cus.Currency, inv.Currency, "invoice currency"},
	} {
		if c.got.Cmp(c.want) != 0 {
			return input.Rule(c.rule, "%s %s %s differs from %s %s", c.doc, c.field, c.got, c.wantField, c.want)
		}
	}

	tenThousand := big.NewInt(maxBps)
	declared := new(big.Int).Mul(cus.DeclaredValue, tenThousand)
	low := new(big.Int).Mul(inv.Amount, new(big.Int).Sub(tenThousand, toleranceBps))
	high := new(big.Int).Mul(inv.Amount, new(big.Int).Add(tenThousand, toleranceBps))
	if declared.Cmp(low) < 0 || declared.Cmp(high) > 0 {
		return input.Rule(RuleDeclaredValue, "customs declared value %s is not within %s bps of invoice amount %s",
			cus.DeclaredValue, toleranceBps, inv.Amount)
	}

	issue, declaredOn, shipped := inv.IssueDate.Uint64(), cus.Date.Uint64(), bol.ShipDate.Uint64()
	if declaredOn < issue {
		return input.Rule(RuleDateOrder, "customs date %s is before invoice issue date %s", input.FormatDate(declaredOn), input.FormatDate(issue))
	}
	if shipped < declaredOn {
		return input.Rule(RuleDateOrder, "ship date %s is before customs date %s", input.FormatDate(shipped), input.FormatDate(declaredOn))
	}
	if window := shipWindowDays.Uint64(); shipped > issue+window {
		return input.Rule(RuleShipWindow, "ship date %s is %d days after invoice issue date %s; the window is %d days",
			input.FormatDate(shipped), shipped-issue, input.FormatDate(issue), window)
	}
	return nil
}
