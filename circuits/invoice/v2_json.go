package invoice

import (
	"github.com/proofmill/proofmill/circuits/input"
)

// RequestV2 is the JSON input of invoice-consistency/v2: v1's, with the
// bill of lading's carrier and the declaration's customs office.
type RequestV2 struct {
	Invoice      InvoiceJSON        `json:"invoice"`
	BillOfLading BillOfLadingJSONV2 `json:"bill_of_lading"`
	Customs      CustomsJSONV2      `json:"customs_declaration"`
	Public       PublicJSONV2       `json:"public"`
}

type BillOfLadingJSONV2 struct {
	BillOfLadingJSON
	Carrier input.Value `json:"carrier"`
}

type CustomsJSONV2 struct {
	CustomsJSON
	Office input.Value `json:"office"`
}

type PublicJSONV2 struct {
	ToleranceBps           input.Value `json:"tolerance_bps"`
	ShipWindowDays         input.Value `json:"ship_window_days"`
	InvoiceCommitment      input.Value `json:"invoice_commitment,omitempty"`
	BillOfLadingCommitment input.Value `json:"bill_of_lading_commitment,omitempty"`
	CustomsCommitment      input.Value `json:"customs_commitment,omitempty"`
	InvoiceNullifier       input.Value `json:"invoice_nullifier,omitempty"`
	BillOfLadingNullifier  input.Value `json:"bill_of_lading_nullifier,omitempty"`
	CustomsNullifier       input.Value `json:"customs_nullifier,omitempty"`
}

// ParseV2 decodes and range-checks a v2 request; it does not check the rules.
func ParseV2(data []byte) (*StatementV2, error) {
	var r RequestV2
	if err := input.Decode(data, &r); err != nil {
		return nil, err
	}
	var c input.Checker
	b, d, p := &r.BillOfLading, &r.Customs, &r.Public
	s := &StatementV2{
		Invoice: parseInvoice(&c, &r.Invoice),
		BillOfLading: BillOfLadingDocV2{parseBillOfLading(&c, &b.BillOfLadingJSON),
			c.Uint("bill_of_lading.carrier", b.Carrier, idBits)},
		Customs: CustomsDocV2{parseCustoms(&c, &d.CustomsJSON),
			c.Uint("customs_declaration.office", d.Office, idBits)},
		ToleranceBps:   c.Max("public.tolerance_bps", p.ToleranceBps, bpsBits, maxBps),
		ShipWindowDays: c.Uint("public.ship_window_days", p.ShipWindowDays, windowBits),
		Claimed: PublicV2{
			InvoiceCommitment:      c.OptionalElement("public.invoice_commitment", p.InvoiceCommitment),
			BillOfLadingCommitment: c.OptionalElement("public.bill_of_lading_commitment", p.BillOfLadingCommitment),
			CustomsCommitment:      c.OptionalElement("public.customs_commitment", p.CustomsCommitment),
			InvoiceNullifier:       c.OptionalElement("public.invoice_nullifier", p.InvoiceNullifier),
			BillOfLadingNullifier:  c.OptionalElement("public.bill_of_lading_nullifier", p.BillOfLadingNullifier),
			CustomsNullifier:       c.OptionalElement("public.customs_nullifier", p.CustomsNullifier),
		},
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// AssignV2 parses a v2 request, checks every rule natively and returns the
// witness.
func AssignV2(data []byte) (*input.Assignment, error) {
	s, err := ParseV2(data)
	if err != nil {
		return nil, err
	}
	d := s.Derive() // once: the rules and the witness share the hashes
	if err := s.check(d); err != nil {
		return nil, err
	}
	return s.assignment(d), nil
}

// SchemaV2 describes RequestV2.
var SchemaV2 = []input.Field{
	input.ObjectField("invoice", "the seller's invoice", invoiceFields...),
	input.ObjectField("bill_of_lading", "the carrier's bill of lading",
		withIssuer(billOfLadingFields, input.UintField("carrier", idBits, "party id of the carrier that issued the bill"))...),
	input.ObjectField("customs_declaration", "the export customs declaration",
		withIssuer(customsFields, input.UintField("office", idBits, "id of the customs office that registered the declaration"))...),
	input.ObjectField("public", "public parameters and derived values", append(publicParameterFields(),
		input.DerivedField("invoice_commitment", "Poseidon2 commitment to the invoice (as in v1)"),
		input.DerivedField("bill_of_lading_commitment", "Poseidon2 commitment to the bill of lading, carrier included"),
		input.DerivedField("customs_commitment", "Poseidon2 commitment to the customs declaration, office included"),
		input.DerivedField("invoice_nullifier", "invoice nullifier: Poseidon2(tag, seller, invoice number), as v1's nullifier"),
		input.DerivedField("bill_of_lading_nullifier", "bill of lading nullifier: Poseidon2(tag, carrier, bill number)"),
		input.DerivedField("customs_nullifier", "customs nullifier: Poseidon2(tag, customs office, declaration number)"))...),
}

// DescriptionV2 is a one-line summary for listings.
const DescriptionV2 = "invoice, bill of lading and customs declaration agree; one financing nullifier per document, from its issuer and number"

// withIssuer lists a v2 document's issuer right after its number.
func withIssuer(fields []input.Field, issuer input.Field) []input.Field {
	return append([]input.Field{fields[0], issuer}, fields[1:]...)
}
