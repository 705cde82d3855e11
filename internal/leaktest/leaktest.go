// Package leaktest finds a private value in bytes a test collects from
// where a service keeps or says things (a journal file, a Redis dump, logs),
// in every form the value may take there: its decimal text, the 32-byte
// field element a witness holds, and that element in hex or base64 (as
// JSON carries bytes) at each alignment.
package leaktest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// Marker is an unusual decimal value planted in a document.
type Marker struct {
	Name    string
	Decimal string
	forms   map[string][]byte
}

// NewMarker prepares a marker's forms.
func NewMarker(name, decimal string) *Marker {
	v, ok := new(big.Int).SetString(decimal, 10)
	if !ok || v.Sign() < 0 || v.BitLen() > 256 {
		panic("leaktest: not a field element: " + decimal)
	}
	element := v.FillBytes(make([]byte, 32))
	m := &Marker{Name: name, Decimal: decimal, forms: map[string][]byte{
		"decimal":       []byte(decimal),
		"field element": element,
		"hex":           []byte(hex.EncodeToString(element)),
	}}
	for shift := range 3 {
		b := element[shift:]
		b = b[:len(b)/3*3] // whole base64 groups, found whatever precedes them
		m.forms[fmt.Sprintf("base64, shift %d", shift)] = []byte(base64.StdEncoding.EncodeToString(b))
	}
	return m
}

// In returns the form of the marker found in data, or "".
func (m *Marker) In(data []byte) string {
	for form, b := range m.forms {
		if bytes.Contains(data, b) {
			return form
		}
	}
	return ""
}

// Source is bytes gathered from one place.
type Source struct {
	Name string
	Data []byte
}

// Files reads every regular file under root (a file or a folder) as one
// source each.
func Files(t testing.TB, root string) []Source {
	t.Helper()
	var out []Source
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, Source{Name: path, Data: data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Found lists "marker (form) in source" for every marker in every source.
func Found(markers []*Marker, sources []Source) []string {
	var found []string
	for _, s := range sources {
		for _, m := range markers {
			if form := m.In(s.Data); form != "" {
				found = append(found, fmt.Sprintf("%s (%s) in %s", m.Name, form, s.Name))
			}
		}
	}
	return found
}
