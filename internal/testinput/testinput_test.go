package testinput

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEdits(t *testing.T) {
	a, b := Invoice(t, 1), Invoice(t, 2)
	if a == b {
		t.Fatal("two numbered invoices are the same")
	}
	var doc struct {
		Invoice struct{ Number string } `json:"invoice"`
	}
	if err := json.Unmarshal([]byte(a), &doc); err != nil || doc.Invoice.Number != "20260302118" {
		t.Fatalf("invoice 1: %q %v", doc.Invoice.Number, err)
	}
	if Pool(t, 1) == Pool(t, 2) {
		t.Fatal("two numbered pools are the same")
	}
	d := Example(t, "invoice-consistency.json").Set("invoice.quantity", json.Number("1100")).Delete("public.ship_window_days")
	if s := d.JSON(); !strings.Contains(s, `"quantity": 1100`) || strings.Contains(s, "ship_window_days") {
		t.Fatalf("edits lost: %s", s)
	}
}

// An edit of a field the example lacks fails the test.
func TestMissingFieldFails(t *testing.T) {
	for _, path := range []string{"invoice.no_such_field", "assets[99].salt", "invoice[0]"} {
		rec := &recorder{TB: t}
		func() {
			defer func() { recover() }() // Fatalf ends the walk
			name := "invoice-consistency.json"
			if strings.HasPrefix(path, "assets") {
				name = "abs-pool.json"
			}
			d := Example(t, name)
			d.t = rec
			d.Set(path, 1)
		}()
		if !rec.failed {
			t.Errorf("Set(%q) did not fail", path)
		}
	}
}

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	panic("fatal")
}
func (r *recorder) Fatal(...any) {
	r.failed = true
	panic("fatal")
}
