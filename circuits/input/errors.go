package input

import (
	"fmt"
	"math/big"

	"github.com/proofmill/proofmill/errcode"
)

// Error kinds. Every error this package (and the circuit packages) returns
// matches exactly one of them through errors.Is; the first six have code
// errcode.InvalidInput, ErrUnsatisfied errcode.Unsatisfied.
var (
	ErrMalformed    = errcode.New(errcode.InvalidInput, "malformed JSON")
	ErrTooLarge     = errcode.New(errcode.InvalidInput, "input too large")
	ErrUnknownField = errcode.New(errcode.InvalidInput, "unknown field")
	ErrMissingField = errcode.New(errcode.InvalidInput, "missing field")
	ErrInvalidValue = errcode.New(errcode.InvalidInput, "invalid value")
	ErrOutOfRange   = errcode.New(errcode.InvalidInput, "out of range")
	ErrUnsatisfied  = errcode.New(errcode.Unsatisfied, "statement not satisfied")
)

// FieldError says which input field is wrong and why.
type FieldError struct {
	Field  string // JSON path, e.g. "invoice.quantity" or "assets[3].principal"
	Kind   error  // one of the Err* sentinels
	Reason string
}

func (e *FieldError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Kind)
	}
	return fmt.Sprintf("%s: %v: %s", e.Field, e.Kind, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.Kind }

// RuleError says which rule of a statement the inputs break.
type RuleError struct {
	Rule   string // stable rule id, e.g. "quantity"
	Reason string // what a person can act on
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %s: %s", e.Rule, e.Reason)
}

func (e *RuleError) Unwrap() error { return ErrUnsatisfied }

// Rule returns a RuleError with a formatted reason.
func Rule(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// Claim is a public value a client stated next to the value derived from its
// inputs; a nil Claimed means the client left it to be derived.
type Claim struct {
	Rule, What       string
	Claimed, Derived *big.Int
}

// CheckClaims returns a RuleError for the first claim that differs from its
// derived value.
func CheckClaims(claims ...Claim) error {
	for _, c := range claims {
		if c.Claimed != nil && c.Claimed.Cmp(c.Derived) != 0 {
			return Rule(c.Rule, "the given %s %s differs from the %s computed from the inputs", c.What, c.Claimed, c.Derived)
		}
	}
	return nil
}
