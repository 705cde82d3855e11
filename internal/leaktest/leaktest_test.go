package leaktest_test

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/proofmill/proofmill/internal/leaktest"
)

// The marker is found in each form a stored witness may take, at any
// offset, and not in unrelated bytes.
func TestMarkerForms(t *testing.T) {
	m := leaktest.NewMarker("salt", "4242424242424242424242424242424242424242424242424242424242424242424242424242")
	v, _ := new(big.Int).SetString(m.Decimal, 10)
	element := v.FillBytes(make([]byte, 32))
	for prefix := range 4 {
		witness := append(make([]byte, 12+prefix), element...)
		witness = append(witness, make([]byte, 64)...)
		asJSON, _ := json.Marshal(map[string][]byte{"witness": witness})
		for name, data := range map[string][]byte{
			"raw":    witness,
			"json":   asJSON,
			"base64": []byte(base64.StdEncoding.EncodeToString(witness)),
			"text":   []byte(`{"salt": "` + m.Decimal + `"}`),
		} {
			if m.In(data) == "" {
				t.Errorf("prefix %d, %s: marker not found", prefix, name)
			}
		}
	}
	if form := m.In([]byte("nothing of the kind 4242")); form != "" {
		t.Fatalf("found %s in unrelated bytes", form)
	}
}
