package invoice

import (
	"github.com/proofmill/proofmill/circuits/input"
)

// Request is the JSON input of invoice-consistency/v1.
type Request struct {
	Invoice      InvoiceJSON      `json:"invoice"`
	BillOfLading BillOfLadingJSON `json:"bill_of_lading"`
	Customs      CustomsJSON      `json:"customs_declaration"`
	Public       PublicJSON       `json:"public"`
}

type InvoiceJSON struct {
	Number    input.Value `json:"number"`
	Seller    input.Value `json:"seller"`
	Buyer     input.Value `json:"buyer"`
	GoodsCode input.Value `json:"goods_code"`
	Quantity  input.Value `json:"quantity"`
	UnitPrice input.Value `json:"unit_price"`
	Amount    input.Value `json:"amount"`
	Currency  input.Value `json:"currency"`
	IssueDate input.Value `json:"issue_date"`
	Salt      input.Value `json:"salt"`
}

type BillOfLadingJSON struct {
	Number    input.Value `json:"number"`
	Shipper   input.Value `json:"shipper"`
	Consignee input.Value `json:"consignee"`
	GoodsCode input.Value `json:"goods_code"`
	Quantity  input.Value `json:"quantity"`
	ShipDate  input.Value `json:"ship_date"`
	Salt      input.Value `json:"salt"`
}

type CustomsJSON struct {
	Number        input.Value `json:"number"`
	Exporter      input.Value `json:"exporter"`
	Importer      input.Value `json:"importer"`
	GoodsCode     input.Value `json:"goods_code"`
	Quantity      input.Value `json:"quantity"`
	DeclaredValue input.Value `json:"declared_value"`
	Currency      input.Value `json:"currency"`
	Date          input.Value `json:"date"`
	Salt          input.Value `json:"salt"`
}

type PublicJSON struct {
	ToleranceBps           input.Value `json:"tolerance_bps"`
	ShipWindowDays         input.Value `json:"ship_window_days"`
	InvoiceCommitment      input.Value `json:"invoice_commitment,omitempty"`
	BillOfLadingCommitment input.Value `json:"bill_of_lading_commitment,omitempty"`
	CustomsCommitment      input.Value `json:"customs_commitment,omitempty"`
	Nullifier              input.Value `json:"nullifier,omitempty"`
	ShipmentNullifier      input.Value `json:"shipment_nullifier,omitempty"`
}

// Parse decodes and range-checks a request; it does not check the rules.
func Parse(data []byte) (*Statement, error) {
	var r Request
	if err := input.Decode(data, &r); err != nil {
		return nil, err
	}
	var c input.Checker
	i, b, d, p := &r.Invoice, &r.BillOfLading, &r.Customs, &r.Public
	s := &Statement{
		Invoice:        parseInvoice(&c, i),
		BillOfLading:   parseBillOfLading(&c, b),
		Customs:        parseCustoms(&c, d),
		ToleranceBps:   c.Max("public.tolerance_bps", p.ToleranceBps, bpsBits, maxBps),
		ShipWindowDays: c.Uint("public.ship_window_days", p.ShipWindowDays, windowBits),
		Claimed: Public{
			InvoiceCommitment:      c.OptionalElement("public.invoice_commitment", p.InvoiceCommitment),
			BillOfLadingCommitment: c.OptionalElement("public.bill_of_lading_commitment", p.BillOfLadingCommitment),
			CustomsCommitment:      c.OptionalElement("public.customs_commitment", p.CustomsCommitment),
			Nullifier:              c.OptionalElement("public.nullifier", p.Nullifier),
			ShipmentNullifier:      c.OptionalElement("public.shipment_nullifier", p.ShipmentNullifier),
		},
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Assign parses a request, checks every rule natively and returns the witness.
func Assign(data []byte) (*input.Assignment, error) {
	s, err := Parse(data)
	if err != nil {
		return nil, err
	}
	d := s.Derive() // once: the rules and the witness share the hashes
	if err := s.check(d); err != nil {
		return nil, err
	}
	return s.assignment(d), nil
}

// Schema describes Request.
var Schema = []input.Field{
	input.ObjectField("invoice", "the seller's invoice", invoiceFields...),
	input.ObjectField("bill_of_lading", "the carrier's bill of lading", billOfLadingFields...),
	input.ObjectField("customs_declaration", "the export customs declaration", customsFields...),
	input.ObjectField("public", "public parameters and derived values", append(publicParameterFields(),
		input.DerivedField("invoice_commitment", "Poseidon2 commitment to the invoice"),
		input.DerivedField("bill_of_lading_commitment", "Poseidon2 commitment to the bill of lading"),
		input.DerivedField("customs_commitment", "Poseidon2 commitment to the customs declaration"),
		input.DerivedField("nullifier", "financing nullifier: Poseidon2(tag, seller, invoice number)"),
		input.DerivedField("shipment_nullifier", "shipment nullifier: Poseidon2(tag, exporter, customs declaration number, bill of lading number)"))...),
}

// The documents' fields common to every version.
var (
	invoiceFields = []input.Field{
		input.UintField("number", idBits, "invoice number"),
		input.UintField("seller", idBits, "seller's party id"),
		input.UintField("buyer", idBits, "buyer's party id"),
		input.UintField("goods_code", goodsBits, "HS commodity code"),
		input.UintField("quantity", quantityBits, "units invoiced"),
		input.UintField("unit_price", priceBits, "price per unit, in minor currency units"),
		input.UintField("amount", amountBits, "quantity × unit price"),
		input.UintField("currency", currencyBits, "ISO 4217 numeric currency code"),
		input.DateField("issue_date", "date of issue"),
		input.SaltField(),
	}
	billOfLadingFields = []input.Field{
		input.UintField("number", idBits, "bill of lading number"),
		input.UintField("shipper", idBits, "shipper's party id"),
		input.UintField("consignee", idBits, "consignee's party id"),
		input.UintField("goods_code", goodsBits, "HS commodity code"),
		input.UintField("quantity", quantityBits, "units shipped"),
		input.DateField("ship_date", "date shipped on board"),
		input.SaltField(),
	}
	customsFields = []input.Field{
		input.UintField("number", idBits, "declaration number"),
		input.UintField("exporter", idBits, "exporter's party id"),
		input.UintField("importer", idBits, "importer's party id"),
		input.UintField("goods_code", goodsBits, "HS commodity code"),
		input.UintField("quantity", quantityBits, "units declared"),
		input.UintField("declared_value", amountBits, "declared value, in minor currency units"),
		input.UintField("currency", currencyBits, "ISO 4217 numeric currency code"),
		input.DateField("date", "date of declaration"),
		input.SaltField(),
	}
)

func publicParameterFields() []input.Field {
	return []input.Field{
		input.UintField("tolerance_bps", bpsBits, "allowed gap between declared value and invoice amount, in basis points (≤ 10000)"),
		input.UintField("ship_window_days", windowBits, "latest ship date, in days after the invoice issue date"),
	}
}

// Description is a one-line summary for listings.
const Description = "invoice, bill of lading and customs declaration agree; exposes invoice and shipment financing nullifiers"

func parseInvoice(c *input.Checker, i *InvoiceJSON) InvoiceDoc {
	return InvoiceDoc{
		Number:    c.Uint("invoice.number", i.Number, idBits),
		Seller:    c.Uint("invoice.seller", i.Seller, idBits),
		Buyer:     c.Uint("invoice.buyer", i.Buyer, idBits),
		GoodsCode: c.Uint("invoice.goods_code", i.GoodsCode, goodsBits),
		Quantity:  c.Uint("invoice.quantity", i.Quantity, quantityBits),
		UnitPrice: c.Uint("invoice.unit_price", i.UnitPrice, priceBits),
		Amount:    c.Uint("invoice.amount", i.Amount, amountBits),
		Currency:  c.Uint("invoice.currency", i.Currency, currencyBits),
		IssueDate: c.Date("invoice.issue_date", i.IssueDate),
		Salt:      c.Element("invoice.salt", i.Salt),
	}
}

func parseBillOfLading(c *input.Checker, b *BillOfLadingJSON) BillOfLadingDoc {
	return BillOfLadingDoc{
		Number:    c.Uint("bill_of_lading.number", b.Number, idBits),
		Shipper:   c.Uint("bill_of_lading.shipper", b.Shipper, idBits),
		Consignee: c.Uint("bill_of_lading.consignee", b.Consignee, idBits),
		GoodsCode: c.Uint("bill_of_lading.goods_code", b.GoodsCode, goodsBits),
		Quantity:  c.Uint("bill_of_lading.quantity", b.Quantity, quantityBits),
		ShipDate:  c.Date("bill_of_lading.ship_date", b.ShipDate),
		Salt:      c.Element("bill_of_lading.salt", b.Salt),
	}
}

func parseCustoms(c *input.Checker, d *CustomsJSON) CustomsDoc {
	return CustomsDoc{
		Number:        c.Uint("customs_declaration.number", d.Number, idBits),
		Exporter:      c.Uint("customs_declaration.exporter", d.Exporter, idBits),
		Importer:      c.Uint("customs_declaration.importer", d.Importer, idBits),
		GoodsCode:     c.Uint("customs_declaration.goods_code", d.GoodsCode, goodsBits),
		Quantity:      c.Uint("customs_declaration.quantity", d.Quantity, quantityBits),
		DeclaredValue: c.Uint("customs_declaration.declared_value", d.DeclaredValue, amountBits),
		Currency:      c.Uint("customs_declaration.currency", d.Currency, currencyBits),
		Date:          c.Date("customs_declaration.date", d.Date),
		Salt:          c.Element("customs_declaration.salt", d.Salt),
	}
}
