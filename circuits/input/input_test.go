package input

import (
	"errors"
	"strings"
	"testing"
)

func TestDates(t *testing.T) {
	cases := []struct {
		in   string
		days int64
		kind error
	}{
		{`"1970-01-01"`, 0, nil},
		{`"2026-03-02"`, 20514, nil},
		{`"2263-01-01"`, 107016, nil}, // past time.Duration's 292 years
		{`"9999-12-31"`, 2932896, nil},
		{`20514`, 20514, nil},
		{`"1969-12-31"`, 0, ErrOutOfRange},
		{`"2026-02-30"`, 0, ErrInvalidValue},
		{`"2026-3-2"`, 0, ErrInvalidValue},
		{`4294967296`, 0, ErrOutOfRange},
	}
	for _, c := range cases {
		var chk Checker
		got := chk.Date("d", Value{raw: []byte(c.in)})
		if !errors.Is(chk.Err(), c.kind) && !(c.kind == nil && chk.Err() == nil) {
			t.Errorf("%s: error %v, want %v", c.in, chk.Err(), c.kind)
			continue
		}
		if c.kind == nil && got.Int64() != c.days {
			t.Errorf("%s: %d days, want %d", c.in, got, c.days)
		}
		if c.kind == nil && c.in[0] == '"' && `"`+FormatDate(got.Uint64())+`"` != c.in {
			t.Errorf("%s: formats back as %s", c.in, FormatDate(got.Uint64()))
		}
	}
}

func TestIntegers(t *testing.T) {
	cases := []struct {
		in   string
		bits int
		kind error
	}{
		{`"18446744073709551615"`, 64, nil},
		{`18446744073709551616`, 64, ErrOutOfRange},
		{`"-1"`, 64, ErrOutOfRange},
		{`"1e3"`, 64, ErrInvalidValue},
		{`1.5`, 64, ErrInvalidValue},
		{`" 7"`, 64, ErrInvalidValue},
		{`""`, 64, ErrInvalidValue},
		{`{"a": 1}`, 64, ErrInvalidValue},
		{`[` + strings.Repeat("1,", 200) + `1]`, 64, ErrInvalidValue},
		{`true`, 64, ErrInvalidValue},
		{`"` + strings.Repeat("9", 101) + `"`, 64, ErrOutOfRange},
	}
	for _, c := range cases {
		var chk Checker
		chk.Uint("n", Value{raw: []byte(c.in)}, c.bits)
		if err := chk.Err(); (c.kind == nil) != (err == nil) || (c.kind != nil && !errors.Is(err, c.kind)) {
			t.Errorf("%.30s: got %v, want %v", c.in, err, c.kind)
		}
		if err := chk.Err(); err != nil && len(err.Error()) > 200 {
			t.Errorf("%.30s: message of %d bytes echoes the input", c.in, len(err.Error()))
		}
	}
	var chk Checker
	chk.Uint("n", Value{}, 8)
	if !errors.Is(chk.Err(), ErrMissingField) {
		t.Errorf("missing: got %v", chk.Err())
	}
}

type doc struct {
	Name  Value `json:"name"`
	Inner struct {
		List List[struct {
			X Value `json:"x"`
		}] `json:"list"`
	} `json:"inner"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		json, field string
		kind        error
	}{
		{`{"name": 1, "Name": 2}`, "Name", ErrUnknownField},
		{`{"name": 1, "name": 2}`, "name", ErrMalformed},
		{`{"inner": {"list": [{"x": 1}, {"x": 2, "x": 3}]}}`, "inner.list[1].x", ErrMalformed},
		{`{"inner": {"list": [{"x": 1}, {"y": 2}]}}`, "y", ErrUnknownField},
		{`{"inner": {"list": [{"x": 1}, {"x": 2}, {"x": 3}]}}`, "inner.list", ErrOutOfRange},
		{`{"inner": {"list": {}}}`, "inner.list", ErrInvalidValue},
		{`{"name": 1} {}`, "", ErrMalformed},
		{`{"name": `, "", ErrMalformed},
	}
	for _, c := range cases {
		var d doc
		d.Inner.List = List[struct {
			X Value `json:"x"`
		}]{Field: "inner.list", Max: 2}
		err := Decode([]byte(c.json), &d)
		if !errors.Is(err, c.kind) {
			t.Errorf("%s: got %v, want %v", c.json, err, c.kind)
			continue
		}
		var fe *FieldError
		if c.field != "" && (!errors.As(err, &fe) || !strings.HasSuffix(fe.Field, c.field)) {
			t.Errorf("%s: error %v does not name %s", c.json, err, c.field)
		}
	}
	var d doc
	d.Inner.List.Max = 2
	if err := Decode([]byte(`{"name": "5", "inner": {"list": [{"x": 1}, {"x": "2"}]}}`), &d); err != nil || len(d.Inner.List.Items) != 2 {
		t.Fatalf("valid document: %v, %d items", err, len(d.Inner.List.Items))
	}
}
