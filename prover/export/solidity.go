package export

import (
	"fmt"
	"io"

	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/solidity"
)

// Solidity writes gnark's Solidity verifier contract (named Verifier) for a
// BN254 Groth16 verifying key. The contract takes proofs in gnark's calldata
// layout (see MarshalSolidity in gnark's backend/groth16/bn254), not in
// snarkjs's.
func Solidity(w io.Writer, vk groth16.VerifyingKey, opts ...solidity.ExportOption) error {
	bvk, ok := vk.(*groth16bn254.VerifyingKey)
	if !ok || bvk == nil {
		return fmt.Errorf("export: solidity: got %T, want a BN254 key", vk)
	}
	if err := bvk.ExportSolidity(w, opts...); err != nil {
		return fmt.Errorf("export: solidity: %w", err)
	}
	return nil
}
