package vault

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/newfile"
)

// KeySize is the size of every key here: AES-256.
const KeySize = 32

// MasterKey wraps data keys.
type MasterKey struct {
	key []byte
	id  string
}

// ParseMasterKey reads a master key: 32 bytes, base64 (standard, padded)
// on one line, as NewMasterKeyFile writes it and $PROOFMILL_MASTER_KEY holds.
func ParseMasterKey(text []byte) (*MasterKey, error) {
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil || len(key) != KeySize {
		return nil, errcode.Errorf(errcode.Usage, "vault: a master key is %d random bytes in base64 (as `proofmill keys master-key new` writes): this is not one", KeySize)
	}
	sum := sha256.Sum256(append([]byte("proofmill master key id\x00"), key...))
	return &MasterKey{key: key, id: "mk1-" + hex.EncodeToString(sum[:8])}, nil
}

// ID names the key without revealing it.
func (m *MasterKey) ID() string { return m.id }

// NewMasterKey makes a random master key and its text form.
func NewMasterKey() (*MasterKey, []byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("vault: %w", err)
	}
	text := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	m, err := ParseMasterKey(text)
	return m, text, err
}

// LoadMasterKey reads a master key file.
func LoadMasterKey(path string) (*MasterKey, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Errorf(errcode.Usage, "vault: master key: %w", err)
	}
	m, err := ParseMasterKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteMasterKeyFile makes a new master key in path (mode 0600), which
// must not exist.
func WriteMasterKeyFile(path string) (*MasterKey, error) {
	m, text, err := NewMasterKey()
	if err != nil {
		return nil, err
	}
	err = newfile.Write(path, text, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, errcode.Errorf(errcode.KeysExist, "vault: master key %s exists; it is never replaced (a new master key is taken in with `keys data-key rotate --rewrap`)", path)
	} else if err != nil {
		return nil, fmt.Errorf("vault: master key: %w", err)
	}
	return m, nil
}

// LoadOrCreateMasterKey reads path, or makes a master key there if there is
// none, and says which.
func LoadOrCreateMasterKey(path string) (*MasterKey, bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		m, err := WriteMasterKeyFile(path)
		if errcode.Of(err) == errcode.KeysExist { // made meanwhile by another process
			m, err = LoadMasterKey(path)
			return m, false, err
		}
		return m, err == nil, err
	}
	m, err := LoadMasterKey(path)
	return m, false, err
}
