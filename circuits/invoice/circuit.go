package invoice

import (
	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits/gadget"
)

// Bit widths of the document fields, shared by the circuit and the decoder.
const (
	idBits       = 64  // document numbers and party identifiers
	goodsBits    = 40  // HS / commodity code
	quantityBits = 64  // units
	priceBits    = 64  // minor currency units per unit
	amountBits   = 128 // minor currency units
	currencyBits = 16  // ISO 4217 numeric code
	dateBits     = 32  // days since 1970-01-01
	windowBits   = 16  // days
	bpsBits      = 14  // basis points, at most 10 000
	maxBps       = 10000
)

// Domain-separation tags: each document and the nullifier hash differently.
var (
	tagInvoice      = gadget.Tag("proofmill/invoice/v1")
	tagBillOfLading = gadget.Tag("proofmill/bill-of-lading/v1")
	tagCustoms      = gadget.Tag("proofmill/customs/v1")
	tagNullifier    = gadget.Tag("proofmill/financing/v1")
	tagShipment     = gadget.Tag("proofmill/shipment/v1")
)

// Invoice is the seller's invoice.
type Invoice struct {
	Number, Seller, Buyer, GoodsCode, Quantity, UnitPrice, Amount, Currency, IssueDate, Salt frontend.Variable
}

// BillOfLading is the carrier's bill of lading.
type BillOfLading struct {
	Number, Shipper, Consignee, GoodsCode, Quantity, ShipDate, Salt frontend.Variable
}

// Customs is the customs declaration.
type Customs struct {
	Number, Exporter, Importer, GoodsCode, Quantity, DeclaredValue, Currency, Date, Salt frontend.Variable
}

// Circuit is the invoice-consistency/v1 statement. The public inputs come
// first, in the order listed in PublicInputs.
type Circuit struct {
	InvoiceCommitment      frontend.Variable `gnark:",public"`
	BillOfLadingCommitment frontend.Variable `gnark:",public"`
	CustomsCommitment      frontend.Variable `gnark:",public"`
	ToleranceBps           frontend.Variable `gnark:",public"`
	ShipWindowDays         frontend.Variable `gnark:",public"`
	Nullifier              frontend.Variable `gnark:",public"`
	ShipmentNullifier      frontend.Variable `gnark:",public"`

	Invoice      Invoice
	BillOfLading BillOfLading
	Customs      Customs
}

// Define declares the constraints.
func (c *Circuit) Define(api frontend.API) error {
	h, err := gadget.NewHasher(api)
	if err != nil {
		return err
	}
	inv, bol, cus := &c.Invoice, &c.BillOfLading, &c.Customs
	assertRanges(api, inv, bol, cus, c.ToleranceBps, c.ShipWindowDays)

	// Commitments open.
	api.AssertIsEqual(c.InvoiceCommitment, commitInvoice(h, inv))
	api.AssertIsEqual(c.BillOfLadingCommitment, h.Hash(tagBillOfLading, bol.Number, bol.Shipper,
		bol.Consignee, bol.GoodsCode, bol.Quantity, bol.ShipDate, bol.Salt))
	api.AssertIsEqual(c.CustomsCommitment, h.Hash(tagCustoms, cus.Number, cus.Exporter, cus.Importer,
		cus.GoodsCode, cus.Quantity, cus.DeclaredValue, cus.Currency, cus.Date, cus.Salt))

	assertAgreement(api, inv, bol, cus, c.ToleranceBps, c.ShipWindowDays)

	// Financing nullifiers: the invoice's, and the shipment's from the numbers
	// that customs and the carrier issued, which the seller cannot re-mint.
	api.AssertIsEqual(c.Nullifier, invoiceNullifier(h, inv))
	api.AssertIsEqual(c.ShipmentNullifier, h.Hash(tagShipment, cus.Exporter, cus.Number, bol.Number))
	return nil
}

// tolBits bounds amount·(10000±t) and declared·10000: 128 + 15 bits.
const tolBits = amountBits + 15

// The rules below are shared by every version; each version adds its own
// commitments and nullifiers between them. The order of the calls fixes the
// order of the constraints, so v1's keys stay valid.

// assertRanges keeps every field within its declared width, so no
// equation can wrap around the modulus.
func assertRanges(api frontend.API, inv *Invoice, bol *BillOfLading, cus *Customs, toleranceBps, shipWindowDays frontend.Variable) {
	for _, f := range []struct {
		v    frontend.Variable
		bits int
	}{
		{inv.Number, idBits}, {inv.Seller, idBits}, {inv.Buyer, idBits}, {inv.GoodsCode, goodsBits},
		{inv.Quantity, quantityBits}, {inv.UnitPrice, priceBits}, {inv.Amount, amountBits},
		{inv.Currency, currencyBits}, {inv.IssueDate, dateBits},
		{bol.Number, idBits}, {bol.Shipper, idBits}, {bol.Consignee, idBits}, {bol.GoodsCode, goodsBits},
		{bol.Quantity, quantityBits}, {bol.ShipDate, dateBits},
		{cus.Number, idBits}, {cus.Exporter, idBits}, {cus.Importer, idBits}, {cus.GoodsCode, goodsBits},
		{cus.Quantity, quantityBits}, {cus.DeclaredValue, amountBits}, {cus.Currency, currencyBits},
		{cus.Date, dateBits},
		{toleranceBps, bpsBits}, {shipWindowDays, windowBits},
	} {
		gadget.AssertBits(api, f.v, f.bits)
	}
	gadget.AssertLE(api, toleranceBps, maxBps, bpsBits)
}

// assertAgreement is the statement itself: the three documents describe
// one sale and one shipment.
func assertAgreement(api frontend.API, inv *Invoice, bol *BillOfLading, cus *Customs, toleranceBps, shipWindowDays frontend.Variable) {
	// amount = quantity × unit price (both below 2^64, so no wrap-around).
	api.AssertIsEqual(inv.Amount, api.Mul(inv.Quantity, inv.UnitPrice))

	// The three documents describe the same goods between the same parties.
	api.AssertIsEqual(bol.GoodsCode, inv.GoodsCode)
	api.AssertIsEqual(cus.GoodsCode, inv.GoodsCode)
	api.AssertIsEqual(bol.Quantity, inv.Quantity)
	api.AssertIsEqual(cus.Quantity, inv.Quantity)
	api.AssertIsEqual(bol.Shipper, inv.Seller)
	api.AssertIsEqual(cus.Exporter, inv.Seller)
	api.AssertIsEqual(bol.Consignee, inv.Buyer)
	api.AssertIsEqual(cus.Importer, inv.Buyer)

	// Declared value within tolerance of the amount, in the same currency:
	// amount·(10000−t) ≤ declared·10000 ≤ amount·(10000+t). All terms < 2^143.
	api.AssertIsEqual(cus.Currency, inv.Currency)
	declared := api.Mul(cus.DeclaredValue, maxBps)
	gadget.AssertLE(api, api.Mul(inv.Amount, api.Sub(maxBps, toleranceBps)), declared, tolBits)
	gadget.AssertLE(api, declared, api.Mul(inv.Amount, api.Add(maxBps, toleranceBps)), tolBits)

	// Dates: issued, then declared, then shipped, within the window.
	gadget.AssertLE(api, inv.IssueDate, cus.Date, dateBits)
	gadget.AssertLE(api, cus.Date, bol.ShipDate, dateBits)
	gadget.AssertLE(api, bol.ShipDate, api.Add(inv.IssueDate, shipWindowDays), dateBits+1)
}

// commitInvoice is the invoice's commitment; the invoice is the same
// document in every version.
func commitInvoice(h *gadget.Hasher, inv *Invoice) frontend.Variable {
	return h.Hash(tagInvoice, inv.Number, inv.Seller, inv.Buyer, inv.GoodsCode, inv.Quantity,
		inv.UnitPrice, inv.Amount, inv.Currency, inv.IssueDate, inv.Salt)
}

// invoiceNullifier is the same in every version, so a ledger that accepts
// both sees one invoice financed under each.
func invoiceNullifier(h *gadget.Hasher, inv *Invoice) frontend.Variable {
	return h.Hash(tagNullifier, inv.Seller, inv.Number)
}
