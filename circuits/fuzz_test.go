package circuits_test

import (
	"errors"
	"os"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
)

var inputKinds = []error{input.ErrMalformed, input.ErrTooLarge, input.ErrUnknownField, input.ErrMissingField,
	input.ErrInvalidValue, input.ErrOutOfRange, input.ErrUnsatisfied}

// FuzzAssign feeds every circuit's input decoder arbitrary bytes: it must
// not panic, and every error must be one of the input kinds a client is
// told about (never an unclassified one).
//
//	go test ./circuits -run '^$' -fuzz FuzzAssign -fuzztime 30s
func FuzzAssign(f *testing.F) {
	for _, name := range []string{"invoice-consistency.json", "abs-pool.json"} {
		data, err := os.ReadFile("../examples/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), data)
		f.Add(uint8(1), data)
	}
	ids := circuits.IDs()
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		c, err := circuits.Lookup(ids[int(which)%len(ids)])
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Assign(data)
		if err == nil {
			if a == nil || a.Witness == nil || len(a.Public) != len(c.PublicInputs) {
				t.Fatalf("%s accepted an input but built no witness", c.ID)
			}
			return
		}
		for _, kind := range inputKinds {
			if errors.Is(err, kind) {
				return
			}
		}
		t.Fatalf("%s: unclassified error %v", c.ID, err)
	})
}
