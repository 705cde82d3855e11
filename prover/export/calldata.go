package export

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// Calldata is a proof as an EVM Groth16 verifier takes it: gnark's exported
// contract's verifyProof(bytes proof, uint256[N] input), whose proof is the
// 8 words below concatenated (256 bytes). Each word is 0x and 64 hex
// digits, big-endian.
type Calldata struct {
	// Proof is A.x, A.y, B.x (imaginary part, then real), B.y (imaginary,
	// real), C.x, C.y: the EIP-197 order of G2 coordinates, which puts the
	// imaginary part first where snarkjs's JSON puts it second.
	Proof [8]string `json:"proof"`
	// PublicInputs are the public signals in the circuit's order.
	PublicInputs []string `json:"public_inputs"`
}

// EVMCalldata encodes a proof and its public signals (decimal) for an EVM
// verifier. The proof's words are gnark's own MarshalSolidity bytes.
func EVMCalldata(p Proof, publicSignals []string) (Calldata, error) {
	proof, err := p.parse()
	if err != nil {
		return Calldata{}, fmt.Errorf("export: calldata: %w", err)
	}
	return evmCalldata(proof, publicSignals)
}

// CalldataOf is EVMCalldata of a gnark BN254 proof, as the prover made it.
func CalldataOf(p groth16.Proof, publicSignals []string) (Calldata, error) {
	bp, ok := p.(*groth16bn254.Proof)
	if !ok || bp == nil {
		return Calldata{}, fmt.Errorf("export: calldata: got %T, want a BN254 proof", p)
	}
	return evmCalldata(bp, publicSignals)
}

func evmCalldata(proof *groth16bn254.Proof, publicSignals []string) (Calldata, error) {
	var c Calldata
	raw := proof.MarshalSolidity()
	if len(raw) != 8*32 {
		return c, fmt.Errorf("export: calldata: %d bytes, want 256 (a proof without commitments)", len(raw))
	}
	for i := range c.Proof {
		c.Proof[i] = fmt.Sprintf("0x%x", raw[32*i:32*i+32])
	}
	for i, s := range publicSignals {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok || v.Sign() < 0 || v.BitLen() > 256 {
			return c, fmt.Errorf("export: calldata: public signal %d (%.20q) is not a uint256", i, s)
		}
		c.PublicInputs = append(c.PublicInputs, fmt.Sprintf("0x%064x", v))
	}
	return c, nil
}

// ProofBytes is the proof argument of gnark's verifyProof: the 8 words as
// one 0x-prefixed 256-byte string.
func (c Calldata) ProofBytes() string {
	var b strings.Builder
	b.WriteString("0x")
	for _, w := range c.Proof {
		b.WriteString(strings.TrimPrefix(w, "0x"))
	}
	return b.String()
}

// EVM is verifyProof's two arguments, one a line: the proof bytes, and the
// inputs as a uint256 array literal (what cast, ethers or web3 take).
func (c Calldata) EVM() string {
	return c.ProofBytes() + "\n[" + strings.Join(c.PublicInputs, ",") + "]"
}

// SnarkjsSolidity is the calldata as snarkjs's zkey export soliditycalldata
// prints it, for snarkjs's own verifier contract: a, b (each G2 coordinate
// imaginary part first), c, and the inputs.
func (c Calldata) SnarkjsSolidity() string {
	w := c.Proof
	return fmt.Sprintf(`["%s","%s"],[["%s","%s"],["%s","%s"]],["%s","%s"],["%s"]`,
		w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], strings.Join(c.PublicInputs, `","`))
}
