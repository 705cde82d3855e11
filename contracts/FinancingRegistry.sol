// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Groth16Registry} from "Groth16Registry.sol";

/// @title FinancingRegistry: each invoice, and each shipment, financed once
/// @notice Records a financing when its invoice-consistency proof holds and
/// none of its nullifiers was recorded before. The nullifiers are public
/// inputs of the proof at positions given at construction: for
/// invoice-consistency/v1, input 5 ("invoice", a hash of the seller and the
/// invoice number) and input 6 ("shipment", a hash of the exporter, the
/// customs declaration and the bill of lading), so a bank sees the same
/// invoice financed twice, and the same shipment financed again under a new
/// invoice number. Each nullifier position is its own namespace.
contract FinancingRegistry is Groth16Registry {
    /// @notice How many financings were recorded; ids run from 1.
    uint256 public financings;

    uint256[] private nullifierInputs;
    string[] private nullifierNames;
    /// @dev input position => nullifier => the financing that used it (0: none).
    mapping(uint256 => mapping(uint256 => uint256)) private used;

    /// @notice A financing was recorded: its id, the account that sent it,
    /// its nullifiers (in the order given at construction) and all its
    /// public inputs in circuit order.
    event Financed(uint256 indexed id, address indexed financier, uint256[] nullifiers, uint256[] publicInputs);

    /// @notice The nullifier `name`, public input `inputIndex`, has value
    /// `nullifier`, which financing `financedIn` already recorded.
    error NullifierUsed(string name, uint256 inputIndex, uint256 nullifier, uint256 financedIn);
    /// @notice The constructor's nullifier positions: none, a position not
    /// below N, a position listed twice, or not one name per position.
    error BadNullifierInputs();

    /// @param verifier_ the circuit's verifier contract
    /// @param inputCount_ its public input count N (7 for invoice-consistency/v1)
    /// @param inputs the nullifiers' public input positions ([5, 6] for v1)
    /// @param names their names, one per position, for NullifierUsed (["invoice", "shipment"])
    constructor(address verifier_, uint256 inputCount_, uint256[] memory inputs, string[] memory names)
        Groth16Registry(verifier_, inputCount_)
    {
        if (inputs.length == 0 || inputs.length != names.length) revert BadNullifierInputs();
        for (uint256 i = 0; i < inputs.length; i++) {
            if (inputs[i] >= inputCount_) revert BadNullifierInputs();
            for (uint256 j = 0; j < i; j++) {
                if (inputs[j] == inputs[i]) revert BadNullifierInputs();
            }
        }
        nullifierInputs = inputs;
        nullifierNames = names;
    }

    /// @notice Records a financing: reverts with NullifierUsed if any of its
    /// nullifiers was recorded before, or with the verifier's error (or
    /// WrongInputCount, WrongProofLength) unless the proof holds.
    /// @param proof the 8 words of the proof, 256 bytes
    /// @param input the N public inputs in circuit order
    /// @return id the financing's id
    function finance(bytes calldata proof, uint256[] calldata input) external returns (uint256 id) {
        if (input.length != inputCount) revert WrongInputCount(input.length, inputCount);
        uint256[] memory nullifiers = new uint256[](nullifierInputs.length);
        for (uint256 i = 0; i < nullifiers.length; i++) {
            uint256 at = nullifierInputs[i];
            uint256 prior = used[at][input[at]];
            if (prior != 0) revert NullifierUsed(nullifierNames[i], at, input[at], prior);
            nullifiers[i] = input[at];
        }
        verify(proof, input);
        id = ++financings;
        for (uint256 i = 0; i < nullifiers.length; i++) {
            used[nullifierInputs[i]][nullifiers[i]] = id;
        }
        emit Financed(id, msg.sender, nullifiers, input);
    }

    /// @notice The financing that recorded nullifier at public input
    /// inputIndex, or 0.
    function financedIn(uint256 inputIndex, uint256 nullifier) external view returns (uint256) {
        return used[inputIndex][nullifier];
    }

    /// @notice The nullifiers' public input positions and names.
    function nullifierSlots() external view returns (uint256[] memory inputs, string[] memory names) {
        return (nullifierInputs, nullifierNames);
    }
}
