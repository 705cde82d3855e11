package export

import (
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// The calldata is gnark's own MarshalSolidity bytes, the same whether made
// from the proof or from its snarkjs JSON; read back in the EIP-197 order
// (G2 imaginary part first) it is a proof gnark verifies, and read in
// snarkjs's order it is not.
func TestEVMCalldata(t *testing.T) {
	f := newFixture(t)
	signals, err := PublicSignals(f.witness)
	if err != nil {
		t.Fatal(err)
	}
	fromProof, err := CalldataOf(f.proof, signals)
	if err != nil {
		t.Fatal(err)
	}
	raw := f.proof.(*groth16bn254.Proof).MarshalSolidity()
	for i, w := range fromProof.Proof {
		if len(w) != 66 || w[2:] != hex.EncodeToString(raw[32*i:32*i+32]) {
			t.Fatalf("word %d = %s, want gnark's %x", i, w, raw[32*i:32*i+32])
		}
	}
	js, err := FromGnarkProof(f.proof)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := EVMCalldata(js, signals)
	if err != nil || fromJSON.Proof != fromProof.Proof || strings.Join(fromJSON.PublicInputs, ",") != strings.Join(fromProof.PublicInputs, ",") {
		t.Fatalf("from the JSON: %+v, %v; from the proof: %+v", fromJSON, err, fromProof)
	}
	if want := hexDecimal(t, js.PiB[0][1]); fromProof.Proof[2] != want {
		t.Fatalf("word 2 = %s, want B.x's imaginary part (snarkjs's pi_b[0][1]) %s", fromProof.Proof[2], want)
	}
	for i, s := range signals {
		if fromProof.PublicInputs[i] != hexDecimal(t, s) {
			t.Fatalf("input %d = %s, want %s", i, fromProof.PublicInputs[i], s)
		}
	}
	public, err := f.witness.Public()
	if err != nil {
		t.Fatal(err)
	}
	if err := groth16.Verify(proofFromWords(t, fromProof.Proof, false), f.vk, public); err != nil {
		t.Fatalf("the calldata read back does not verify: %v", err)
	}
	if err := groth16.Verify(proofFromWords(t, fromProof.Proof, true), f.vk, public); err == nil {
		t.Fatal("the words read in snarkjs's order verify too: the layout check is blind")
	}
	if got := fromProof.ProofBytes(); got != "0x"+hex.EncodeToString(raw) {
		t.Fatalf("proof bytes %s, want gnark's %x", got, raw)
	}
	line := fromProof.SnarkjsSolidity()
	if !strings.HasPrefix(line, `["`+fromProof.Proof[0]+`","`+fromProof.Proof[1]+`"],[["`+fromProof.Proof[2]+`","`+fromProof.Proof[3]+`"]`) {
		t.Fatalf("snarkjs line: %s", line)
	}
	if _, err := EVMCalldata(js, []string{"-1"}); err == nil {
		t.Fatal("a negative public signal made calldata")
	}
}

// proofFromWords reads 8 calldata words back into a proof; swapped reads
// each G2 coordinate real part first, as snarkjs's JSON holds it.
func proofFromWords(t *testing.T, w [8]string, swapped bool) groth16.Proof {
	t.Helper()
	n := func(i int) *big.Int {
		v, ok := new(big.Int).SetString(w[i][2:], 16)
		if !ok {
			t.Fatalf("word %d: %s", i, w[i])
		}
		return v
	}
	im, re := 0, 1
	if swapped {
		im, re = 1, 0
	}
	var p groth16bn254.Proof
	p.Ar.X.SetBigInt(n(0))
	p.Ar.Y.SetBigInt(n(1))
	p.Bs.X.A1.SetBigInt(n(2 + im))
	p.Bs.X.A0.SetBigInt(n(2 + re))
	p.Bs.Y.A1.SetBigInt(n(4 + im))
	p.Bs.Y.A0.SetBigInt(n(4 + re))
	p.Krs.X.SetBigInt(n(6))
	p.Krs.Y.SetBigInt(n(7))
	return &p
}

func hexDecimal(t *testing.T, s string) string {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("not decimal: %s", s)
	}
	return "0x" + leftPad(v.Text(16))
}

func leftPad(h string) string { return strings.Repeat("0", 64-len(h)) + h }

func TestContractName(t *testing.T) {
	for in, want := range map[string]string{
		"invoice-consistency/v1": "InvoiceConsistencyV1Verifier",
		"abs-pool-64/v1":         "AbsPool64V1Verifier",
		"9lives":                 "Circuit9livesVerifier",
	} {
		if got := ContractName(in); got != want {
			t.Errorf("ContractName(%q) = %s, want %s", in, got, want)
		}
	}
}
