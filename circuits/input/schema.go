package input

import (
	"github.com/consensys/gnark-crypto/ecc"
	"math/big"

	"github.com/consensys/gnark/frontend"
)

// Field describes one field of a circuit's JSON input.
type Field struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"` // uint, date, element, object or array
	Bits     int     `json:"bits,omitempty"`
	Optional bool    `json:"optional,omitempty"` // derived when absent, checked when given
	MaxItems int     `json:"max_items,omitempty"`
	Doc      string  `json:"doc,omitempty"`
	Fields   []Field `json:"fields,omitempty"` // members of an object, or of each array item
}

// Schema field constructors, so circuit packages read like their documents.
func UintField(name string, bits int, doc string) Field {
	return Field{Name: name, Type: "uint", Bits: bits, Doc: doc}
}

func DateField(name, doc string) Field {
	return Field{Name: name, Type: "date", Bits: DateBits, Doc: doc + " (YYYY-MM-DD)"}
}

func SaltField() Field {
	return Field{Name: "salt", Type: "element", Doc: "random blinding value below the BN254 scalar field modulus"}
}

func DerivedField(name, doc string) Field {
	return Field{Name: name, Type: "element", Optional: true, Doc: doc}
}

func ObjectField(name, doc string, fields ...Field) Field {
	return Field{Name: name, Type: "object", Doc: doc, Fields: fields}
}

// PublicInput is one public input of a statement, by name, in circuit order.
type PublicInput struct {
	Name  string
	Value *big.Int
}

// Assignment is a full witness for a circuit and the public inputs it exposes.
type Assignment struct {
	Witness frontend.Circuit
	Public  []PublicInput
}

// Binary is the full witness in gnark's binary encoding over BN254: what a
// job stores and a prover reads back.
func (a *Assignment) Binary() ([]byte, error) {
	full, err := frontend.NewWitness(a.Witness, ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	return full.MarshalBinary()
}
