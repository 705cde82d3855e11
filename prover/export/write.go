package export

import (
	"encoding/json"
	"io"

	"github.com/consensys/gnark/backend/groth16"

	"github.com/proofmill/proofmill/errcode"
)

// Write encodes circuit's verifying key for other verifiers: "json" is
// snarkjs's verification_key.json, "solidity" gnark's Solidity verifier
// contract (named as ContractName says), "gnark" gnark's binary encoding.
// Another format is an errcode.BadRequest.
func Write(w io.Writer, vk groth16.VerifyingKey, format, circuit string) error {
	switch format {
	case "json":
		j, err := FromGnarkVerifyingKey(vk)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(j)
	case "solidity":
		return Solidity(w, vk, ContractName(circuit))
	case "gnark":
		_, err := vk.WriteTo(w)
		return err
	}
	return errcode.Errorf(errcode.BadRequest, "format %q: want json, solidity or gnark", format)
}

// Formats are the formats Write takes.
var Formats = []string{"json", "solidity", "gnark"}
