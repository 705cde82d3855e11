// Package invoice is the invoice-consistency circuit: the customs
// cross-validation and repeated-financing scenario.
//
// A seller's invoice, a carrier's bill of lading and a customs declaration are
// each committed to by their issuer (Poseidon2 of the document's fields and a
// salt). The proof shows, with all three documents private:
//
//   - each commitment opens to its document;
//   - amount = quantity × unit price;
//   - goods code and quantity agree on all three documents;
//   - seller = shipper = exporter and buyer = consignee = importer;
//   - the declared value is within a public tolerance (basis points) of the
//     invoice amount, in the same currency;
//   - issue date ≤ customs date ≤ ship date, and the ship date is at most a
//     public number of days after the issue date;
//   - the public financing nullifier is Poseidon2(tag, seller, invoice number),
//     so banks see the same invoice financed twice without seeing it;
//   - the public shipment nullifier is Poseidon2(tag, exporter, customs
//     declaration number, bill of lading number). The seller picks its own
//     invoice numbers and could re-invoice one shipment under a new number;
//     the declaration and bill of lading numbers are issued by customs and
//     the carrier, so banks should refuse a second financing when either
//     nullifier has been seen.
//
// Every numeric field is range-checked to its declared width.
package invoice
