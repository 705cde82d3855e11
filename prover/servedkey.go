package prover

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"

	"github.com/proofmill/proofmill/prover/export"
)

// ServedKey is a circuit's verifying key in one of export.Formats, as the
// service hands it out, with the SHA-256 of exactly those bytes.
type ServedKey struct {
	Format string
	Data   []byte
	SHA256 string // hex, of Data
	// KeyHash names the key (Manifest.VerifyingKeyHash): the "gnark"
	// format's SHA256.
	KeyHash string
}

// ExportVerifyingKey returns a circuit's verifying key in format. "gnark" is
// the key file itself, byte for byte, so its digest is the one that names
// the key in jobs, proof files and receipts (Manifest.VerifyingKeyHash);
// the others are export.Write's encodings of that key, digested as written.
func (s KeyStore) ExportVerifyingKey(id, format string) (ServedKey, error) {
	vk, raw, err := s.verifyingKeyFile(id)
	if err != nil {
		return ServedKey{}, err
	}
	k, err := serve(vk, raw, format, id)
	if err != nil {
		return ServedKey{}, err
	}
	gnark := sha256.Sum256(raw)
	k.KeyHash = hex.EncodeToString(gnark[:])
	return k, nil
}

// VerifyingKeyDigests is the SHA-256 of a circuit's verifying key as served
// in each of export.Formats, by format.
func (s KeyStore) VerifyingKeyDigests(id string) (map[string]string, error) {
	vk, raw, err := s.verifyingKeyFile(id)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(export.Formats))
	for _, f := range export.Formats {
		k, err := serve(vk, raw, f, id)
		if err != nil {
			return nil, err
		}
		out[f] = k.SHA256
	}
	return out, nil
}

// verifyingKeyFile reads a circuit's verifying key file, checked against
// its manifest, and decodes it.
func (s KeyStore) verifyingKeyFile(id string) (groth16.VerifyingKey, []byte, error) {
	m, err := s.Manifest(id)
	if err != nil {
		return nil, nil, err
	}
	var raw []byte
	vk := groth16.NewVerifyingKey(ecc.BN254)
	err = s.readChecked(id, fileVerifyingKey, m.SHA256[fileVerifyingKey], nil, func(r io.Reader) error {
		var err error
		if raw, err = io.ReadAll(r); err != nil {
			return err
		}
		_, err = vk.UnsafeReadFrom(bytes.NewReader(raw))
		return err
	})
	return vk, raw, err
}

// serve encodes vk in format; raw is the key file, which "gnark" serves.
func serve(vk groth16.VerifyingKey, raw []byte, format, circuit string) (ServedKey, error) {
	data := raw
	if format != "gnark" {
		var buf bytes.Buffer
		if err := export.Write(&buf, vk, format, circuit); err != nil {
			return ServedKey{}, err
		}
		data = buf.Bytes()
	}
	sum := sha256.Sum256(data)
	return ServedKey{Format: format, Data: data, SHA256: hex.EncodeToString(sum[:])}, nil
}
