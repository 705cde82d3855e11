// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Groth16Registry} from "Groth16Registry.sol";

/// @title AbsPoolRegistry: an ABS pool's published root and figures, proven
/// @notice Records a pool when its abs-pool proof holds: its Merkle root
/// (public input 0) and its figures (all its public inputs in circuit
/// order: root, active_count, total_principal, max_days_past_due,
/// min_rating, maturity_from, maturity_to, concentration_limit_bps,
/// min_weighted_rate_bps). A root is registered once: its record never
/// changes, so no later proof over the same assets, with other limits, can
/// replace the figures investors read. A changed pool has a new root.
contract AbsPoolRegistry is Groth16Registry {
    /// @notice The public input that is the pool's root.
    uint256 public constant ROOT_INPUT = 0;
    /// @notice How many pools were registered.
    uint256 public pools;

    struct Pool {
        address registrant;
        uint64 blockNumber;
        uint256[] publicInputs;
    }

    mapping(uint256 => Pool) private byRoot;

    /// @notice A pool was registered: its root, the account that sent it,
    /// and its public inputs in circuit order.
    event PoolRegistered(uint256 indexed root, address indexed registrant, uint256[] publicInputs);

    /// @notice The pool `root` was registered by `registrant` in block
    /// `blockNumber`; its record stands.
    error PoolAlreadyRegistered(uint256 root, address registrant, uint256 blockNumber);

    /// @param verifier_ the pool circuit's verifier (e.g. AbsPool16V1Verifier)
    /// @param inputCount_ its public input count (9 for abs-pool circuits)
    constructor(address verifier_, uint256 inputCount_) Groth16Registry(verifier_, inputCount_) {}

    /// @notice Registers a pool: reverts with PoolAlreadyRegistered if its
    /// root is registered, or with the verifier's error (or WrongInputCount,
    /// WrongProofLength) unless the proof holds.
    function register(bytes calldata proof, uint256[] calldata input) external {
        if (input.length != inputCount) revert WrongInputCount(input.length, inputCount);
        uint256 root = input[ROOT_INPUT];
        Pool storage p = byRoot[root];
        if (p.registrant != address(0)) revert PoolAlreadyRegistered(root, p.registrant, p.blockNumber);
        verify(proof, input);
        p.registrant = msg.sender;
        p.blockNumber = uint64(block.number);
        p.publicInputs = input;
        pools++;
        emit PoolRegistered(root, msg.sender, input);
    }

    /// @notice The pool registered under root: registrant (zero if none),
    /// block and public inputs.
    function pool(uint256 root)
        external
        view
        returns (address registrant, uint256 blockNumber, uint256[] memory publicInputs)
    {
        Pool storage p = byRoot[root];
        return (p.registrant, p.blockNumber, p.publicInputs);
    }
}
