package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
)

// Key errors.
var (
	// ErrKeyDigest: the key's bytes are not the ones the digest names.
	ErrKeyDigest = errcode.New(errcode.KeyMismatch, "verifying key digest mismatch")
	// ErrBadKey: the bytes are not a BN254 Groth16 verifying key in gnark's
	// format, or not one for the circuit.
	ErrBadKey = errcode.New(errcode.KeyMismatch, "bad verifying key")
	// ErrKeyCommitments: the key has Pedersen commitment keys; proofmill's
	// circuits have none, and batch verification would not check them.
	ErrKeyCommitments = errcode.New(errcode.KeyMismatch, "verifying key has commitments")
)

// Key is a circuit's verifying key, pinned by the SHA-256 of its gnark
// encoding.
type Key struct {
	circuit *circuits.Circuit
	digest  string // hex SHA-256 of the gnark encoding
	vk      *groth16bn254.VerifyingKey
}

// LoadVerifyingKey decodes a circuit's verifying key from data, the gnark
// format exactly as proofmill serves it (`proofmill keys export --format
// gnark`, GetVerifyingKey's gnark format), after checking that its
// SHA-256 is sha256hex: the digest is what a ledger pins, e.g. in its
// chaincode's configuration. The key must be for the circuit (as many
// public inputs) and have no commitments.
func LoadVerifyingKey(circuitID string, data []byte, sha256hex string) (*Key, error) {
	c, err := circuits.Lookup(circuitID)
	if err != nil {
		return nil, fmt.Errorf("ledger: load key: %w", err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != sha256hex {
		return nil, fmt.Errorf("ledger: load key for %s: %w: the bytes have SHA-256 %s, want %q", c.ID, ErrKeyDigest, got, sha256hex)
	}
	vk := new(groth16bn254.VerifyingKey)
	// ReadFrom, not UnsafeReadFrom: the key's points are checked to be on
	// the curve and in the subgroup.
	n, err := vk.ReadFrom(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ledger: load key for %s: %w: %v", c.ID, ErrBadKey, err)
	}
	if n != int64(len(data)) {
		return nil, fmt.Errorf("ledger: load key for %s: %w: %d bytes after the key", c.ID, ErrBadKey, int64(len(data))-n)
	}
	if len(vk.CommitmentKeys) != 0 || len(vk.PublicAndCommitmentCommitted) != 0 {
		return nil, fmt.Errorf("ledger: load key for %s: %w", c.ID, ErrKeyCommitments)
	}
	if got := len(vk.G1.K) - 1; got != len(c.PublicInputs) {
		return nil, fmt.Errorf("ledger: load key for %s: %w: %d public inputs, the circuit has %d", c.ID, ErrBadKey, got, len(c.PublicInputs))
	}
	return &Key{circuit: c, digest: sha256hex, vk: vk}, nil
}

// Circuit is the key's circuit ID.
func (k *Key) Circuit() string { return k.circuit.ID }

// SHA256 is the key's digest (hex).
func (k *Key) SHA256() string { return k.digest }

// Keys is a set of verifying keys by digest, for a ledger that accepts
// proofs of several circuits (or of several keys of one). It is safe for
// concurrent use.
type Keys struct {
	mu       sync.RWMutex
	byDigest map[string]*Key
}

// Add adds keys; a key already there is kept once.
func (ks *Keys) Add(keys ...*Key) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.byDigest == nil {
		ks.byDigest = make(map[string]*Key)
	}
	for _, k := range keys {
		ks.byDigest[k.digest] = k
	}
}

// Key returns the key with the digest.
func (ks *Keys) Key(sha256hex string) (*Key, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	k, ok := ks.byDigest[sha256hex]
	return k, ok
}
