package sealed

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/newfile"
)

// Suite names the HPKE suite inputs are sealed with, as GetInputKey states it.
const Suite = "MLKEM768X25519/HKDF-SHA256/AES-256-GCM"

// The suite's HPKE identifiers (RFC 9180 section 7; the KEM's from
// draft-ietf-hpke-pq).
const (
	KEMID  uint16 = 0x647A // MLKEM768-X25519 (X-Wing)
	KDFID  uint16 = 0x0001 // HKDF-SHA256
	AEADID uint16 = 0x0002 // AES-256-GCM
)

// Overhead is what sealing adds to a plaintext: the encapsulated key (1120
// bytes) and the AES-GCM tag (16).
const Overhead = 1120 + 16

// The PEM block types of key files.
const (
	privateKeyPEM = "PROOFMILL INPUT KEY"
	publicKeyPEM  = "PROOFMILL INPUT PUBLIC KEY"
)

var (
	// ErrInvalid: a sealed input does not open. HPKE cannot tell which of
	// these it was, so the message names them all.
	ErrInvalid = errcode.New(errcode.SealedInvalid,
		"sealed input does not open: it was sealed to another input key, changed after sealing, or sealed for another tenant or circuit")
	// ErrKeyFile: an input key file, or a public key's bytes, cannot be used.
	ErrKeyFile = errcode.New(errcode.CorruptKeys, "unusable input key")
	// ErrStatement: a published input key's signed statement does not hold.
	ErrStatement = errcode.New(errcode.ReceiptInvalid, "input key statement does not verify")
)

func suite() (hpke.KEM, hpke.KDF, hpke.AEAD) {
	return hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.AES256GCM()
}

// PublicKey is an input key as clients seal to it.
type PublicKey struct {
	key hpke.PublicKey
	id  string
}

func newPublicKey(key hpke.PublicKey) *PublicKey {
	sum := sha256.Sum256(key.Bytes())
	return &PublicKey{key: key, id: "ik1-" + hex.EncodeToString(sum[:16])}
}

// ParsePublicKey reads a public key: a PEM "PROOFMILL INPUT PUBLIC KEY"
// block (a .pub file that `proofmill keys input-key new` wrote), or the
// key's raw bytes (GetInputKey's public_key).
func ParsePublicKey(data []byte) (*PublicKey, error) {
	raw := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != publicKeyPEM {
			return nil, fmt.Errorf("sealed: public key: %w: a PEM %q block, not %q", ErrKeyFile, block.Type, publicKeyPEM)
		}
		raw = block.Bytes
	}
	kem, _, _ := suite()
	key, err := kem.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("sealed: public key: %w: want a PEM %q block or %s's public key bytes (%d bytes given): %w",
			ErrKeyFile, publicKeyPEM, Suite, len(raw), err)
	}
	return newPublicKey(key), nil
}

// Bytes is the public key as HPKE serializes it.
func (p *PublicKey) Bytes() []byte { return p.key.Bytes() }

// ID names the key: "ik1-" and the first 16 bytes of its SHA-256, in hex.
func (p *PublicKey) ID() string { return p.id }

// PEM is the key as a .pub file holds it.
func (p *PublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyPEM, Bytes: p.key.Bytes()})
}

// PrivateKey is an input key: what a worker opens sealed inputs with.
type PrivateKey struct {
	key hpke.PrivateKey
	pub *PublicKey
}

// GenerateKey makes a new input key.
func GenerateKey() (*PrivateKey, error) {
	kem, _, _ := suite()
	key, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("sealed: new input key: %w", err)
	}
	return &PrivateKey{key: key, pub: newPublicKey(key.PublicKey())}, nil
}

// Public is the key clients seal to.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// ID names the key, as its public key's ID does.
func (k *PrivateKey) ID() string { return k.pub.id }

// Open opens an input sealed to k for tenant ("" without tenants) and
// circuit. Its error matches ErrInvalid and says nothing of the plaintext.
func (k *PrivateKey) Open(tenant, circuit string, ciphertext []byte) ([]byte, error) {
	if err := checkLines("tenant", tenant, "circuit", circuit); err != nil {
		return nil, fmt.Errorf("sealed: open: %w: %w", ErrInvalid, err)
	}
	if len(ciphertext) < Overhead {
		return nil, fmt.Errorf("sealed: open (key %s, circuit %s): %w (%d bytes, shorter than HPKE's %d-byte overhead)",
			k.ID(), circuit, ErrInvalid, len(ciphertext), Overhead)
	}
	_, kdf, aead := suite()
	plaintext, err := hpke.Open(k.key, kdf, aead, Info(k.ID(), tenant, circuit), ciphertext)
	if err != nil {
		return nil, fmt.Errorf("sealed: open (key %s, tenant %q, circuit %s): %w", k.ID(), tenant, circuit, ErrInvalid)
	}
	return plaintext, nil
}

// Seal seals plaintext (a circuit's JSON input, as input_json would carry
// it) to pub, for tenant ("" without tenants) and circuit. Each call makes
// other bytes: a retried submission must resend the bytes it first sent.
func Seal(pub *PublicKey, tenant, circuit string, plaintext []byte) ([]byte, error) {
	if err := checkLines("tenant", tenant, "circuit", circuit); err != nil {
		return nil, errcode.E("sealed: seal", errcode.BadRequest, err)
	}
	_, kdf, aead := suite()
	out, err := hpke.Seal(pub.key, kdf, aead, Info(pub.ID(), tenant, circuit), plaintext)
	if err != nil {
		return nil, fmt.Errorf("sealed: seal to %s: %w", pub.ID(), err)
	}
	return out, nil
}

// Info is HPKE's info for an input sealed to keyID for tenant and circuit:
// one "name: value" line each after a header, each ending in a newline.
func Info(keyID, tenant, circuit string) []byte {
	return []byte("proofmill sealed input v1\nkey_id: " + keyID + "\ntenant: " + tenant + "\ncircuit: " + circuit + "\n")
}

// KeyStatement is what the service's receipt key signs when it publishes an
// input key: its id, suite, the hex SHA-256 of its public key bytes, and
// the tenant it is published to ("" without tenants). Its first line is
// not a receipt's, so the one signing key keeps the two apart.
func KeyStatement(keyID, suite string, public []byte, tenant string) []byte {
	sum := sha256.Sum256(public)
	return []byte("proofmill input key v1\nkey_id: " + keyID + "\nsuite: " + suite + "\npublic_key_sha256: " +
		hex.EncodeToString(sum[:]) + "\ntenant: " + tenant + "\n")
}

// VerifyKeyStatement checks a published input key (GetInputKey's fields):
// signed by signer over KeyStatement, in Suite, and named by its own id.
// It returns the key to seal to.
func VerifyKeyStatement(keyID, suite string, public []byte, tenant string, signature []byte, signer ed25519.PublicKey) (*PublicKey, error) {
	if err := checkLines("key_id", keyID, "suite", suite, "tenant", tenant); err != nil {
		return nil, fmt.Errorf("sealed: %w: %w", ErrStatement, err)
	}
	if suite != Suite {
		return nil, fmt.Errorf("sealed: %w: suite %q; this client seals with %q only", ErrStatement, suite, Suite)
	}
	if len(signer) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("sealed: %w: a signing key of %d bytes", ErrStatement, len(signer))
	}
	if !ed25519.Verify(signer, KeyStatement(keyID, suite, public, tenant), signature) {
		return nil, fmt.Errorf("sealed: %w: input key %s: the signature is not the service key's over its statement", ErrStatement, keyID)
	}
	pub, err := ParsePublicKey(public)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w: %w", ErrStatement, err)
	}
	if pub.ID() != keyID {
		return nil, fmt.Errorf("sealed: %w: key_id %s is not the public key's id %s", ErrStatement, keyID, pub.ID())
	}
	return pub, nil
}

// checkLines refuses a line break in any value of name, value pairs: each
// is one line of a signed or bound text.
func checkLines(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.ContainsAny(pairs[i+1], "\r\n") {
			return fmt.Errorf("%s holds a line break", pairs[i])
		}
	}
	return nil
}

// LoadKey reads an input key file. A missing file is InputKeyMissing; a
// malformed one, or one that others than its owner may read or write,
// matches ErrKeyFile and names the file.
func LoadKey(path string) (*PrivateKey, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errcode.E("sealed", errcode.InputKeyMissing, fmt.Errorf("input key %s: %w", path, err))
	} else if err != nil {
		return nil, fmt.Errorf("sealed: input key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sealed: input key: %w", err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("sealed: input key %s: %w: mode %04o lets others than its owner read or write it; chmod 600 it",
			path, ErrKeyFile, info.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10)) // a key file is a few hundred bytes
	if err != nil {
		return nil, fmt.Errorf("sealed: input key: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != privateKeyPEM || strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("sealed: input key %s: %w: want one PEM %q block", path, ErrKeyFile, privateKeyPEM)
	}
	kem, _, _ := suite()
	key, err := kem.NewPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sealed: input key %s: %w: not a %s private key (%d bytes): %w", path, ErrKeyFile, Suite, len(block.Bytes), err)
	}
	return &PrivateKey{key: key, pub: newPublicKey(key.PublicKey())}, nil
}

// CreateKey makes a new input key and writes it to path (mode 0600; its
// folder made 0700). A file already there is left alone: KeysExist.
func CreateKey(path string) (*PrivateKey, error) {
	k, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	raw, err := k.key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("sealed: input key: %w", err)
	}
	err = newfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: privateKeyPEM, Bytes: raw}), 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, errcode.Errorf(errcode.KeysExist, "sealed: input key %s: the file exists; not replaced", path)
	} else if err != nil {
		return nil, fmt.Errorf("sealed: input key: %w", err)
	}
	return k, nil
}

// LoadOrCreateKey reads the input key at path, or creates one there if the
// file does not exist (created is then true).
func LoadOrCreateKey(path string) (k *PrivateKey, created bool, err error) {
	k, err = LoadKey(path)
	if errcode.Of(err) != errcode.InputKeyMissing {
		return k, false, err
	}
	if k, err = CreateKey(path); err != nil {
		return nil, false, err
	}
	return k, true, nil
}
