package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// MaxDocumentBytes bounds the size of one input document.
const MaxDocumentBytes = 4 << 20

// Decode strictly decodes one JSON document into v: unknown fields, repeated
// fields, field names that are not lower case (encoding/json would match
// them case-insensitively), trailing data and documents over
// MaxDocumentBytes are errors.
func Decode(data []byte, v any) error {
	if len(data) > MaxDocumentBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxDocumentBytes)
	}
	if err := checkKeys(data); err != nil {
		return err
	}
	return decodeStrict(data, v)
}

func decodeStrict(data []byte, v any) error {
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
	var field *FieldError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &field):
		return field
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: %v (at byte %d)", ErrMalformed, syntax, syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of input", ErrMalformed)
	case errors.As(err, &typ):
		name := typ.Field
		if name == "" {
			name = "(document)"
		}
		return &FieldError{Field: name, Kind: ErrInvalidValue, Reason: fmt.Sprintf("expected %s, got JSON %s", typ.Type, typ.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{Field: strings.Trim(name, `"`), Kind: ErrUnknownField}
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// checkKeys walks the document's tokens and rejects object keys that
// encoding/json would accept loosely: a repeated key (the last would win)
// or one with upper-case letters (matched case-insensitively). Syntax
// errors are left to the decoder, which reports them with an offset.
func checkKeys(data []byte) error {
	type frame struct {
		object    bool
		keys      map[string]bool
		expectKey bool
		key       string
		index     int
	}
	var stack []*frame
	path := func(last string) string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.object && f.key != "" && f != stack[len(stack)-1]:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			case !f.object:
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		return b.String() + last
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.object {
			top.expectKey = true
		} else {
			top.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
			top := stack[n-1]
			key, ok := tok.(string)
			if !ok { // the closing brace
				stack = stack[:n-1]
				valueDone()
				continue
			}
			switch {
			case strings.IndexFunc(key, unicode.IsUpper) >= 0:
				return &FieldError{Field: path(key), Kind: ErrUnknownField, Reason: "field names are lower case"}
			case top.keys[key]:
				return &FieldError{Field: path(key), Kind: ErrMalformed, Reason: "field given twice"}
			}
			top.keys[key], top.key, top.expectKey = true, key, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// List is a JSON array decoded one item at a time that stops at the first
// item past Max, so an oversized list costs no more than its limit.
type List[T any] struct {
	Field string // JSON path of the list, for errors
	Max   int
	Hint  string // added to the too-many-items error
	Items []T
}

// UnmarshalJSON decodes the items strictly; null leaves the list empty.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return &FieldError{Field: l.Field, Kind: ErrInvalidValue, Reason: "expected a list"}
	}
	for dec.More() {
		if len(l.Items) == l.Max {
			return &FieldError{Field: l.Field, Kind: ErrOutOfRange, Reason: fmt.Sprintf("more than %d items%s", l.Max, l.Hint)}
		}
		var item T
		if err := dec.Decode(&item); err != nil {
			err = decodeError(err)
			var fe *FieldError
			if errors.As(err, &fe) {
				inner := *fe
				inner.Field = fmt.Sprintf("%s[%d].%s", l.Field, len(l.Items), strings.TrimPrefix(fe.Field, "(document)"))
				inner.Field = strings.TrimSuffix(inner.Field, ".")
				return &inner
			}
			return err
		}
		l.Items = append(l.Items, item)
	}
	return nil
}

// ReadDocument reads an input document from a file, or stdin for "-",
// refusing one over MaxDocumentBytes.
func ReadDocument(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("%s: %w: over %d bytes", path, ErrTooLarge, MaxDocumentBytes)
	}
	return data, nil
}
