// Package abspool is the abs-pool circuit: "penetration" of an asset-backed
// security to its underlying assets.
//
// The issuer publishes the Merkle root of a pool tape of capacity N (a power
// of two). Each leaf is Poseidon2(tag, obligor·2^64 + asset id, packed terms,
// salt), where the terms pack principal, rate, days past due, rating and
// maturity. Active assets come first, ordered strictly by (obligor id, asset
// id); unused slots are explicit padding leaves of zeros. The proof shows,
// with the tape private:
//
//   - the public root is built from exactly these leaves;
//   - the sum of outstanding principal and the number of active assets equal
//     the public pool figures;
//   - every active asset has positive principal, days past due at most the
//     limit, a rating at least the minimum, and a maturity in the window;
//   - no obligor's principal exceeds the concentration limit (bps of the pool);
//   - the principal-weighted average rate is at least the public minimum.
//
// The ordering is what makes the concentration check linear: each obligor's
// assets are contiguous, so a running sum per obligor suffices.
package abspool
