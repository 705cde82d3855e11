package input

import (
	"bytes"
	"fmt"
	"math/big"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// maxDigits bounds the decimal digits parsed for one value; it is far above
// any field element (77 digits) and keeps parsing cheap on hostile input.
const maxDigits = 100

// Value holds one scalar from a JSON document as it arrived: a JSON number or
// a string. It is checked later, against its field's schema, by a Checker.
type Value struct{ raw []byte }

// UnmarshalJSON keeps the raw token; null counts as missing.
func (v *Value) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		v.raw = nil
		return nil
	}
	v.raw = append([]byte(nil), b...)
	return nil
}

// MarshalJSON writes the value back as it arrived.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.raw == nil {
		return []byte("null"), nil
	}
	return v.raw, nil
}

// IsSet reports whether the field was present (and not null).
func (v Value) IsSet() bool { return v.raw != nil }

// Checker validates Values against their schema and keeps the first error,
// so a decoder can read every field in a row and check Err once.
type Checker struct{ err error }

// Err returns the first error met, or nil.
func (c *Checker) Err() error { return c.err }

func (c *Checker) fail(field string, kind error, format string, args ...any) *big.Int {
	if c.err == nil {
		c.err = &FieldError{Field: field, Kind: kind, Reason: fmt.Sprintf(format, args...)}
	}
	return new(big.Int)
}

// Uint reads a required unsigned integer of at most bits bits.
func (c *Checker) Uint(field string, v Value, bits int) *big.Int {
	x, ok := c.integer(field, v)
	if !ok {
		return x
	}
	if x.BitLen() > bits {
		return c.fail(field, ErrOutOfRange, "%s does not fit in %d bits (max %s)", x, bits, maxUint(bits))
	}
	return x
}

// Max reads a required unsigned integer of at most bits bits and no more than max.
func (c *Checker) Max(field string, v Value, bits int, max int64) *big.Int {
	x := c.Uint(field, v, bits)
	if c.err == nil && x.Cmp(big.NewInt(max)) > 0 {
		return c.fail(field, ErrOutOfRange, "%s is above the maximum %d", x, max)
	}
	return x
}

// Element reads a required BN254 scalar field element (e.g. a salt).
func (c *Checker) Element(field string, v Value) *big.Int {
	x, ok := c.integer(field, v)
	if ok && x.Cmp(fr.Modulus()) >= 0 {
		return c.fail(field, ErrOutOfRange, "must be below the BN254 scalar field modulus %s", fr.Modulus())
	}
	return x
}

// OptionalElement reads a field element that may be absent; nil when absent.
func (c *Checker) OptionalElement(field string, v Value) *big.Int {
	if !v.IsSet() {
		return nil
	}
	return c.Element(field, v)
}

// OptionalUint reads an unsigned integer that may be absent; nil when absent.
func (c *Checker) OptionalUint(field string, v Value, bits int) *big.Int {
	if !v.IsSet() {
		return nil
	}
	return c.Uint(field, v, bits)
}

// Date reads a required date, "YYYY-MM-DD" or a day count since 1970-01-01,
// and returns the day count (32 bits).
func (c *Checker) Date(field string, v Value) *big.Int {
	if len(v.raw) > 0 && v.raw[0] == '"' && bytes.Count(v.raw, []byte("-")) == 2 {
		t, err := time.Parse(`"2006-01-02"`, string(v.raw))
		if err != nil {
			return c.fail(field, ErrInvalidValue, "%s is not a date in the form YYYY-MM-DD", quote(v.raw))
		}
		if t.Before(epoch) {
			return c.fail(field, ErrOutOfRange, "%s is before 1970-01-01", quote(v.raw))
		}
		return big.NewInt(t.Unix() / secondsPerDay) // Unix seconds: no 292-year Duration limit
	}
	return c.Uint(field, v, DateBits)
}

func (c *Checker) integer(field string, v Value) (*big.Int, bool) {
	if c.err != nil {
		return new(big.Int), false
	}
	if v.raw == nil {
		return c.fail(field, ErrMissingField, "required"), false
	}
	s := v.raw
	if s[0] == '"' {
		if len(s) < 2 || s[len(s)-1] != '"' {
			return c.fail(field, ErrInvalidValue, "%s is not a decimal integer", quote(s)), false
		}
		s = s[1 : len(s)-1]
	}
	switch {
	case len(s) == 0:
		return c.fail(field, ErrInvalidValue, "empty value"), false
	case s[0] == '-':
		return c.fail(field, ErrOutOfRange, "%s is negative", quote(s)), false
	case s[0] == '{' || s[0] == '[' || s[0] == 't' || s[0] == 'f':
		return c.fail(field, ErrInvalidValue, "%s is not a decimal integer", quote(s)), false
	case len(s) > maxDigits:
		return c.fail(field, ErrOutOfRange, "%d digits is too long", len(s)), false
	}
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return c.fail(field, ErrInvalidValue, "%s is not a decimal integer", quote(s)), false
		}
	}
	x, _ := new(big.Int).SetString(string(s), 10)
	return x, true
}

// quote renders raw input for an error message, cut to a readable length.
func quote(b []byte) string {
	const max = 40
	if len(b) > max {
		return fmt.Sprintf("%q… (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

const secondsPerDay = 24 * 60 * 60

// DateBits is the width of a date (days since 1970-01-01) in every circuit.
const DateBits = 32

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// FormatDate renders a day count since 1970-01-01 as YYYY-MM-DD.
func FormatDate(days uint64) string {
	return epoch.AddDate(0, 0, int(days)).Format("2006-01-02")
}

func maxUint(bits int) *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))
}
