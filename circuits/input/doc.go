// Package input decodes the JSON documents that clients send for a circuit
// and reports what is wrong with them.
//
// Numbers arrive as JSON numbers or decimal strings and are checked against
// the bit width their schema declares; dates arrive as "YYYY-MM-DD". Every
// error names the field (FieldError) or the rule (RuleError) at fault and
// matches one sentinel through errors.Is, so callers can map error kinds to
// exit codes or status codes in one table.
package input
