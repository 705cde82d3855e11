package export

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/solidity"
)

// SolidityPragma is the compiler range of the exported verifier: gnark's
// template uses assembly ("memory-safe"), which Solidity 0.8.13 introduced
// (gnark itself declares ^0.8.0).
const SolidityPragma = "^0.8.13"

// Solidity writes gnark's Solidity verifier contract for a BN254 Groth16
// verifying key, named contract (gnark names every one Verifier, so two
// circuits' contracts would clash in one project). The contract takes
// proofs as Calldata lays them out, not as snarkjs's contract does.
func Solidity(w io.Writer, vk groth16.VerifyingKey, contract string, opts ...solidity.ExportOption) error {
	bvk, ok := vk.(*groth16bn254.VerifyingKey)
	if !ok || bvk == nil {
		return fmt.Errorf("export: solidity: got %T, want a BN254 key", vk)
	}
	var src bytes.Buffer
	if err := bvk.ExportSolidity(&src, append([]solidity.ExportOption{solidity.WithPragmaVersion(SolidityPragma)}, opts...)...); err != nil {
		return fmt.Errorf("export: solidity: %w", err)
	}
	out, n := renameContract(src.String(), contract)
	if n != 1 {
		return fmt.Errorf("export: solidity: gnark's template declares %d contracts named Verifier, want 1", n)
	}
	_, err := io.WriteString(w, out)
	return err
}

// renameContract renames gnark's "contract Verifier" declaration.
func renameContract(src, name string) (string, int) {
	const decl = "contract Verifier"
	return strings.Replace(src, decl, "contract "+name, 1), strings.Count(src, decl)
}

// ContractName is a circuit's verifier contract: its id in CamelCase and
// "Verifier", e.g. InvoiceConsistencyV1Verifier for invoice-consistency/v1.
func ContractName(circuit string) string {
	var b strings.Builder
	upper := true
	for _, r := range circuit {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if upper && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			upper = false
		default:
			upper = true
		}
	}
	if b.Len() == 0 || (b.String()[0] >= '0' && b.String()[0] <= '9') {
		return "Circuit" + b.String() + "Verifier"
	}
	return b.String() + "Verifier"
}
