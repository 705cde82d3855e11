// Package contracts holds proofmill's Solidity contracts for a ledger, in
// this folder beside it: FinancingRegistry (each invoice, and each
// shipment, financed once, by the proof's nullifiers), AbsPoolRegistry (an
// ABS pool's root and figures, once proven) and their base Groth16Registry,
// which binds a registry to one circuit's verifier contract.
//
// The package has no Go code of its own. Its tests compile the contracts
// with the solc pinned in package.json (run `npm ci` here first), together
// with the verifier contracts generated from the test keys (not checked
// in), and run them in go-ethereum's simulated backend against real
// proofs; BenchmarkGas reports the gas of deploying and calling them.
// go-ethereum is imported only by the tests, so no binary links it.
package contracts
