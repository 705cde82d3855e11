package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxDocumentBytes bounds the size of one input document.
const MaxDocumentBytes = 4 << 20

// Decode strictly decodes one JSON document into v: unknown fields, trailing
// data and documents over MaxDocumentBytes are errors.
func Decode(data []byte, v any) error {
	if len(data) > MaxDocumentBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxDocumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: unexpected data after the document", ErrMalformed)
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: %v (at byte %d)", ErrMalformed, syntax, syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of input", ErrMalformed)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(document)"
		}
		return &FieldError{Field: field, Kind: ErrInvalidValue, Reason: fmt.Sprintf("expected %s, got JSON %s", typ.Type, typ.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{Field: strings.Trim(name, `"`), Kind: ErrUnknownField}
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}
