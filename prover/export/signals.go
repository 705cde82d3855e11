package export

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/witness"
)

// PublicSignals returns the public inputs of a BN254 witness, in order, as
// the decimal strings of snarkjs's public.json. A full witness may be passed;
// only its public part is exported.
func PublicSignals(w witness.Witness) ([]string, error) {
	if w == nil {
		return nil, fmt.Errorf("export: public signals: nil witness")
	}
	pub, err := w.Public()
	if err != nil {
		return nil, fmt.Errorf("export: public signals: %w", err)
	}
	v, ok := pub.Vector().(fr.Vector)
	if !ok {
		return nil, fmt.Errorf("export: public signals: got a %T witness, want BN254", pub.Vector())
	}
	signals := make([]string, len(v))
	for i := range v {
		signals[i] = v[i].BigInt(new(big.Int)).String() // not String: it writes r-1 as "-1"
	}
	return signals, nil
}

// PublicWitness builds a BN254 public witness from snarkjs public signals,
// ready for groth16.Verify. Each signal must be a decimal number below the
// scalar field modulus r.
func PublicWitness(signals []string) (witness.Witness, error) {
	values := make(chan any, len(signals))
	for i, s := range signals {
		v, err := parseDecimal(s, fr.Modulus())
		if err != nil {
			return nil, fmt.Errorf("export: public witness: signal %d: %w", i, err)
		}
		values <- v
	}
	close(values)
	w, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("export: public witness: %w", err)
	}
	if err := w.Fill(len(signals), 0, values); err != nil {
		return nil, fmt.Errorf("export: public witness: %w", err)
	}
	return w, nil
}
