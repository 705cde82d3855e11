package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/prover/export"
)

// proofCmd works on proof files without keys.
func proofCmd(e *env) *cobra.Command {
	var path, format string
	calldata := &cobra.Command{Use: "calldata", Short: "Print a proof file's proof and public inputs as EVM calldata for the circuit's verifier contract", Args: noArgs,
		Long: `calldata prints what the circuit's Solidity verifier (keys export --format solidity) takes:
--format evm: verifyProof(bytes proof, uint256[N] input): the 256 proof bytes, then the inputs array;
--format snarkjs-solidity: snarkjs's soliditycalldata line (a, b, c, inputs) for snarkjs's contract.
It does not verify the proof (proofmill verify does).`,
		RunE: func(*cobra.Command, []string) error {
			data, err := readProofFlag(path)
			if err != nil {
				return err
			}
			var f prover.ProofFile
			if err := json.Unmarshal(data, &f); err != nil {
				return fmt.Errorf("%w: %s: %v", prover.ErrBadProofFile, path, err)
			}
			c := f.EVMCalldata
			if c == nil { // a file made before proof files carried it
				made, err := export.EVMCalldata(f.Proof, f.PublicSignals)
				if err != nil {
					return fmt.Errorf("%w: %v", prover.ErrBadProofFile, err)
				}
				c = &made
			}
			switch format {
			case "evm":
				fmt.Fprintln(e.stdout, c.EVM())
			case "snarkjs-solidity":
				fmt.Fprintln(e.stdout, c.SnarkjsSolidity())
			default:
				return usagef("--format %q: want evm or snarkjs-solidity", format)
			}
			return nil
		}}
	calldata.Flags().StringVar(&path, "proof", "", "proof `file` written by prove or wait (- for stdin)")
	calldata.Flags().StringVar(&format, "format", "evm", "evm or snarkjs-solidity")
	return group("proof", "Proof files: their EVM calldata", calldata)
}

// readProofFlag reads the file --proof names (- for stdin).
func readProofFlag(path string) ([]byte, error) {
	if path == "" {
		return nil, usagef("--proof is required")
	}
	return input.ReadDocument(path)
}
