package invoice

import (
	"math/big"

	"github.com/proofmill/proofmill/circuits/gadget"
	"github.com/proofmill/proofmill/circuits/input"
)

// Rule ids v2 adds.
const (
	RuleInvoiceNullifier      = "invoice-nullifier"
	RuleBillOfLadingNullifier = "bill-of-lading-nullifier"
	RuleCustomsNullifier      = "customs-nullifier"
)

// BillOfLadingDocV2 is a bill of lading with its carrier, natively.
type BillOfLadingDocV2 struct {
	BillOfLadingDoc
	Carrier *big.Int
}

// CustomsDocV2 is a customs declaration with its customs office, natively.
type CustomsDocV2 struct {
	CustomsDoc
	Office *big.Int
}

// StatementV2 is everything invoice-consistency/v2 needs; see Statement.
type StatementV2 struct {
	Invoice        InvoiceDoc
	BillOfLading   BillOfLadingDocV2
	Customs        CustomsDocV2
	ToleranceBps   *big.Int
	ShipWindowDays *big.Int

	Claimed PublicV2 // nil members were not given
}

// PublicV2 are v2's derived public inputs, besides the two parameters.
type PublicV2 struct {
	InvoiceCommitment, BillOfLadingCommitment, CustomsCommitment *big.Int
	InvoiceNullifier, BillOfLadingNullifier, CustomsNullifier    *big.Int
}

// Derive computes the commitments and nullifiers exactly as the circuit does.
func (s *StatementV2) Derive() PublicV2 {
	inv, bol, cus := &s.Invoice, &s.BillOfLading, &s.Customs
	return PublicV2{
		InvoiceCommitment: inv.commitment(),
		BillOfLadingCommitment: gadget.Hash(tagBillOfLadingV2, bol.Number, bol.Carrier, bol.Shipper,
			bol.Consignee, bol.GoodsCode, bol.Quantity, bol.ShipDate, bol.Salt),
		CustomsCommitment: gadget.Hash(tagCustomsV2, cus.Number, cus.Office, cus.Exporter, cus.Importer,
			cus.GoodsCode, cus.Quantity, cus.DeclaredValue, cus.Currency, cus.Date, cus.Salt),
		InvoiceNullifier:      inv.nullifier(),
		BillOfLadingNullifier: gadget.Hash(tagBillOfLadingNullifierV2, bol.Carrier, bol.Number),
		CustomsNullifier:      gadget.Hash(tagCustomsNullifierV2, cus.Office, cus.Number),
	}
}

// Check tests every rule natively; the circuit remains the authority.
func (s *StatementV2) Check() error { return s.check(s.Derive()) }

func (s *StatementV2) check(d PublicV2) error {
	if err := input.CheckClaims(
		input.Claim{Rule: RuleInvoiceCommitment, What: "invoice commitment", Claimed: s.Claimed.InvoiceCommitment, Derived: d.InvoiceCommitment},
		input.Claim{Rule: RuleBillOfLadingCommitment, What: "bill of lading commitment", Claimed: s.Claimed.BillOfLadingCommitment, Derived: d.BillOfLadingCommitment},
		input.Claim{Rule: RuleCustomsCommitment, What: "customs declaration commitment", Claimed: s.Claimed.CustomsCommitment, Derived: d.CustomsCommitment},
		input.Claim{Rule: RuleInvoiceNullifier, What: "invoice nullifier", Claimed: s.Claimed.InvoiceNullifier, Derived: d.InvoiceNullifier},
		input.Claim{Rule: RuleBillOfLadingNullifier, What: "bill of lading nullifier", Claimed: s.Claimed.BillOfLadingNullifier, Derived: d.BillOfLadingNullifier},
		input.Claim{Rule: RuleCustomsNullifier, What: "customs declaration nullifier", Claimed: s.Claimed.CustomsNullifier, Derived: d.CustomsNullifier},
	); err != nil {
		return err
	}
	return checkAgreement(&s.Invoice, &s.BillOfLading.BillOfLadingDoc, &s.Customs.CustomsDoc, s.ToleranceBps, s.ShipWindowDays)
}

// Assignment returns the full witness and the named public inputs, without
// checking the rules.
func (s *StatementV2) Assignment() *input.Assignment { return s.assignment(s.Derive()) }

func (s *StatementV2) assignment(d PublicV2) *input.Assignment {
	inv, bol, cus := &s.Invoice, &s.BillOfLading, &s.Customs
	w := &CircuitV2{
		InvoiceCommitment:      d.InvoiceCommitment,
		BillOfLadingCommitment: d.BillOfLadingCommitment,
		CustomsCommitment:      d.CustomsCommitment,
		ToleranceBps:           s.ToleranceBps,
		ShipWindowDays:         s.ShipWindowDays,
		InvoiceNullifier:       d.InvoiceNullifier,
		BillOfLadingNullifier:  d.BillOfLadingNullifier,
		CustomsNullifier:       d.CustomsNullifier,
		Invoice: Invoice{inv.Number, inv.Seller, inv.Buyer, inv.GoodsCode, inv.Quantity, inv.UnitPrice,
			inv.Amount, inv.Currency, inv.IssueDate, inv.Salt},
		BillOfLading: BillOfLadingV2{BillOfLading{bol.Number, bol.Shipper, bol.Consignee, bol.GoodsCode,
			bol.Quantity, bol.ShipDate, bol.Salt}, bol.Carrier},
		Customs: CustomsV2{Customs{cus.Number, cus.Exporter, cus.Importer, cus.GoodsCode, cus.Quantity,
			cus.DeclaredValue, cus.Currency, cus.Date, cus.Salt}, cus.Office},
	}
	values := []*big.Int{d.InvoiceCommitment, d.BillOfLadingCommitment, d.CustomsCommitment,
		s.ToleranceBps, s.ShipWindowDays, d.InvoiceNullifier, d.BillOfLadingNullifier, d.CustomsNullifier}
	public := make([]input.PublicInput, len(PublicInputsV2))
	for i, name := range PublicInputsV2 {
		public[i] = input.PublicInput{Name: name, Value: values[i]}
	}
	return &input.Assignment{Witness: w, Public: public}
}

// PublicInputsV2 names v2's public inputs in circuit order.
var PublicInputsV2 = []string{
	"invoice_commitment", "bill_of_lading_commitment", "customs_commitment",
	"tolerance_bps", "ship_window_days", "invoice_nullifier", "bill_of_lading_nullifier", "customs_nullifier",
}

// NullifiersV2 names v2's nullifiers, one per document.
var NullifiersV2 = PublicInputsV2[5:]
