package prover

import (
	"bytes"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// FuzzProvingKeyDump: a proving-key dump that passes checkDump decodes
// without a panic and allocates no more than the file holds; the seed is
// the cubic test circuit's development key.
//
//	go test ./prover -run '^$' -fuzz FuzzProvingKeyDump -fuzztime 30s
func FuzzProvingKeyDump(f *testing.F) {
	k, err := Setup(cubicCircuit, quietLog)
	if err != nil {
		f.Fatal(err)
	}
	var dump bytes.Buffer
	if err := k.PK.(*groth16bn254.ProvingKey).WriteDump(&dump); err != nil {
		f.Fatal(err)
	}
	f.Add(dump.Bytes())
	domain := ecc.NextPowerOfTwo(uint64(k.CCS.GetNbConstraints()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkDump(bytes.NewReader(data), int64(len(data)), domain) != nil {
			return
		}
		var pk groth16bn254.ProvingKey
		pk.ReadDump(bytes.NewReader(data)) // may fail; must not panic
	})
}
