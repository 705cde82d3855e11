// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Groth16Registry: a registry bound to one circuit's verifier
/// @notice The base of proofmill's registries. It holds the address of one
/// circuit's verifier contract (the one `proofmill keys export --format
/// solidity` writes, gnark's), fixed at construction, so a proof of any other
/// circuit is refused. The verifier's function is
/// `verifyProof(bytes proof, uint256[N] input)`, which reverts unless the
/// proof holds; N is given at construction and the registry builds that
/// call itself, so one registry contract serves circuits of any N.
abstract contract Groth16Registry {
    /// @notice The circuit's verifier contract.
    address public immutable verifier;
    /// @notice N: the circuit's public input count.
    uint256 public immutable inputCount;
    /// @dev The selector of verifyProof(bytes,uint256[N]).
    bytes4 private immutable verifySelector;

    /// @notice The verifier address given at construction holds no code.
    error NotAContract(address verifier);
    /// @notice The call had `got` public inputs; the circuit has `want`.
    /// A proof of another circuit usually ends here.
    error WrongInputCount(uint256 got, uint256 want);
    /// @notice The proof is not 256 bytes (8 words, see the README).
    error WrongProofLength(uint256 got);
    /// @notice The verifier reverted with no reason: it is not a verifier
    /// of N inputs.
    error VerifierCallFailed();
    /// @notice The verifier's own errors, passed on as it raised them: the
    /// proof does not hold for these inputs, or an input is not below the
    /// BN254 scalar field's modulus.
    error ProofInvalid();
    error PublicInputNotInField();

    constructor(address verifier_, uint256 inputCount_) {
        if (verifier_.code.length == 0) revert NotAContract(verifier_);
        verifier = verifier_;
        inputCount = inputCount_;
        verifySelector = bytes4(keccak256(abi.encodePacked("verifyProof(bytes,uint256[", decimal(inputCount_), "])")));
    }

    /// @dev Reverts unless the verifier accepts proof for input; the
    /// verifier's reason is passed on unchanged.
    function verify(bytes calldata proof, uint256[] calldata input) internal view {
        if (input.length != inputCount) revert WrongInputCount(input.length, inputCount);
        if (proof.length != 256) revert WrongProofLength(proof.length);
        // The ABI encoding of (bytes, uint256[N]): the bytes' offset (after
        // itself and the N inline words), the words, the bytes' length and
        // the 256 bytes (a whole number of words, so no padding).
        bytes memory call = abi.encodePacked(verifySelector, 32 * (input.length + 1), input, proof.length, proof);
        (bool ok, bytes memory reason) = verifier.staticcall(call);
        if (!ok) {
            if (reason.length == 0) revert VerifierCallFailed();
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }

    function decimal(uint256 v) private pure returns (bytes memory s) {
        if (v == 0) return "0";
        for (uint256 w = v; w != 0; w /= 10) s = bytes.concat(bytes1(uint8(48 + w % 10)), s);
    }
}
