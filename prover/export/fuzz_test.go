package export

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzVerifyingKeyJSON parses arbitrary snarkjs verifying-key JSON: no
// panic, and a key that parses has points on the curve (ToGnark checks).
//
//	go test ./prover/export -run '^$' -fuzz FuzzVerifyingKeyJSON -fuzztime 30s
func FuzzVerifyingKeyJSON(f *testing.F) {
	fx, err := setup()
	if err != nil {
		f.Fatal(err)
	}
	vk, err := FromGnarkVerifyingKey(fx.vk)
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := json.Marshal(vk)
	f.Add(seed)
	f.Add([]byte(`{"protocol":"groth16","curve":"bn128","nPublic":1000000000,"IC":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var k VerifyingKey
		if json.Unmarshal(data, &k) != nil {
			return
		}
		if g, err := k.ToGnark(); err == nil && g == nil {
			t.Fatal("a key parsed into nothing")
		}
	})
}

// FuzzPublicWitness turns arbitrary public signals into a witness: only
// canonical decimals below the field modulus are accepted.
func FuzzPublicWitness(f *testing.F) {
	f.Add("1\n2\n3")
	f.Add("21888242871839275222246405745257275088548364400416034343698204186575808495617") // the modulus
	f.Add("-1\n007\n0x10")
	f.Fuzz(func(t *testing.T, joined string) {
		signals := strings.Split(joined, "\n")
		w, err := PublicWitness(signals)
		if err != nil {
			return
		}
		back, err := PublicSignals(w)
		if err != nil || strings.Join(back, "\n") != joined {
			t.Fatalf("signals %q came back as %q (%v)", signals, back, err)
		}
	})
}
