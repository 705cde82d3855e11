package invoice

import (
	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits/gadget"
)

// Tags of invoice-consistency/v2. The invoice and its nullifier are v1's
// (the same document, hashed the same way); the bill of lading and the
// customs declaration name their issuer, so they commit and nullify under
// new tags.
var (
	tagBillOfLadingV2          = gadget.Tag("proofmill/bill-of-lading/v2")
	tagCustomsV2               = gadget.Tag("proofmill/customs/v2")
	tagBillOfLadingNullifierV2 = gadget.Tag("proofmill/financing/bol/v2")
	tagCustomsNullifierV2      = gadget.Tag("proofmill/financing/customs/v2")
)

// BillOfLadingV2 is a bill of lading that names the carrier who issued it:
// bill numbers are unique per carrier, not across carriers.
type BillOfLadingV2 struct {
	BillOfLading
	Carrier frontend.Variable
}

// CustomsV2 is a customs declaration that names the customs office that
// registered it: declaration numbers are unique per office.
type CustomsV2 struct {
	Customs
	Office frontend.Variable
}

// CircuitV2 is the invoice-consistency/v2 statement: v1's rules, with one
// nullifier per document, each from the document's issuer and number.
type CircuitV2 struct {
	InvoiceCommitment      frontend.Variable `gnark:",public"`
	BillOfLadingCommitment frontend.Variable `gnark:",public"`
	CustomsCommitment      frontend.Variable `gnark:",public"`
	ToleranceBps           frontend.Variable `gnark:",public"`
	ShipWindowDays         frontend.Variable `gnark:",public"`
	InvoiceNullifier       frontend.Variable `gnark:",public"`
	BillOfLadingNullifier  frontend.Variable `gnark:",public"`
	CustomsNullifier       frontend.Variable `gnark:",public"`

	Invoice      Invoice
	BillOfLading BillOfLadingV2
	Customs      CustomsV2
}

// Define declares the constraints.
func (c *CircuitV2) Define(api frontend.API) error {
	h, err := gadget.NewHasher(api)
	if err != nil {
		return err
	}
	inv, bol, cus := &c.Invoice, &c.BillOfLading, &c.Customs
	assertRanges(api, inv, &bol.BillOfLading, &cus.Customs, c.ToleranceBps, c.ShipWindowDays)
	gadget.AssertBits(api, bol.Carrier, idBits)
	gadget.AssertBits(api, cus.Office, idBits)

	api.AssertIsEqual(c.InvoiceCommitment, commitInvoice(h, inv))
	api.AssertIsEqual(c.BillOfLadingCommitment, h.Hash(tagBillOfLadingV2, bol.Number, bol.Carrier,
		bol.Shipper, bol.Consignee, bol.GoodsCode, bol.Quantity, bol.ShipDate, bol.Salt))
	api.AssertIsEqual(c.CustomsCommitment, h.Hash(tagCustomsV2, cus.Number, cus.Office, cus.Exporter,
		cus.Importer, cus.GoodsCode, cus.Quantity, cus.DeclaredValue, cus.Currency, cus.Date, cus.Salt))

	assertAgreement(api, inv, &bol.BillOfLading, &cus.Customs, c.ToleranceBps, c.ShipWindowDays)

	// One nullifier per document, from its issuer and number: a re-invoice,
	// a bill of lading reused under a new declaration, and a declaration
	// reused under a new bill are each caught by one of them.
	api.AssertIsEqual(c.InvoiceNullifier, invoiceNullifier(h, inv))
	api.AssertIsEqual(c.BillOfLadingNullifier, h.Hash(tagBillOfLadingNullifierV2, bol.Carrier, bol.Number))
	api.AssertIsEqual(c.CustomsNullifier, h.Hash(tagCustomsNullifierV2, cus.Office, cus.Number))
	return nil
}
