package prover

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/constraint"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/errcode"
)

var (
	// ErrNoKeys: the store has no keys for the circuit.
	ErrNoKeys = errcode.New(errcode.NoKeys, "no keys in the key store")
	// ErrCorruptKeys: a key file is missing, altered, or from another platform.
	ErrCorruptKeys = errcode.New(errcode.CorruptKeys, "key store entry is corrupt")
	// ErrKeysExist: Save found keys already there (another process saved
	// first); load those instead of the ones in hand.
	ErrKeysExist = errcode.New(errcode.KeysExist, "keys already in the key store")
	// ErrDevelopmentKeys: production mode met keys from a one-party setup.
	ErrDevelopmentKeys = errcode.New(errcode.DevelopmentKeys, "development keys refused in production")
)

// Key origins, recorded in the manifest.
const (
	OriginDevelopment = "development" // groth16.Setup by one party: can forge proofs
	OriginCeremony    = "ceremony"    // imported from an MPC ceremony
)

// File names inside a circuit's folder.
const (
	fileCircuit      = "circuit.r1cs"
	fileProvingKey   = "proving.key"   // gnark dump format, platform dependent
	fileVerifyingKey = "verifying.key" // gnark raw (uncompressed) format
	fileManifest     = "manifest.json"
	dirCeremony      = "ceremony" // the transcript of a ceremony's keys
)

// Manifest describes one circuit's keys.
type Manifest struct {
	Circuit      string            `json:"circuit"`
	Constraints  int               `json:"constraints"`
	PublicInputs int               `json:"public_inputs"`
	Origin       string            `json:"origin"`
	Platform     string            `json:"platform"` // GOARCH the proving-key dump was written on
	Created      time.Time         `json:"created"`
	SHA256       map[string]string `json:"sha256"`             // file name → hex digest
	Ceremony     *CeremonyRecord   `json:"ceremony,omitempty"` // for keys from a ceremony
}

// Keys are a circuit's constraint system and Groth16 keys.
type Keys struct {
	CCS      constraint.ConstraintSystem
	PK       groth16.ProvingKey
	VK       groth16.VerifyingKey
	Manifest Manifest
	// transcript is, for keys a ceremony just made, the ceremony's files
	// (relative name → path): Save keeps a copy under ceremony/.
	transcript map[string]string
}

// VerifyingKeyHash is the hex SHA-256 of the verifying key file; it names
// the key in proofs and across machines. The file is what the "gnark"
// format serves (KeyStore.ExportVerifyingKey), so anyone holding those
// bytes can check the name with sha256sum.
func (m Manifest) VerifyingKeyHash() string { return m.SHA256[fileVerifyingKey] }

// VerifyingKeyHash is the hash of the keys' verifying key.
func (k *Keys) VerifyingKeyHash() string { return k.Manifest.VerifyingKeyHash() }

// OriginNone marks a circuit without keys in a Summary.
const OriginNone = "none"

// Summary is what a listing shows of a circuit: its size and its keys.
type Summary struct {
	Constraints      int
	Origin           string // OriginDevelopment, OriginCeremony or OriginNone
	VerifyingKeyHash string // empty without keys
}

// Summary describes a circuit from its manifest, or, when the store has no
// (readable) keys for it, from the registry's constraint snapshot: it
// reads one small file and never compiles, so a listing answers at once
// after a start. Unreadable keys show as none here; KeysStatus says why.
func (s KeyStore) Summary(c *circuits.Circuit) Summary {
	if m, err := s.Manifest(c.ID); err == nil {
		return Summary{Constraints: m.Constraints, Origin: m.Origin, VerifyingKeyHash: m.VerifyingKeyHash()}
	}
	return Summary{Constraints: c.Constraints, Origin: OriginNone}
}

// KeyStore keeps keys on disk under Dir, one folder per circuit id.
type KeyStore struct{ Dir string }

// DefaultKeyDir is $PROOFMILL_KEYS, or proofmill/keys under the user cache dir.
func DefaultKeyDir() (string, error) {
	if dir := os.Getenv("PROOFMILL_KEYS"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("prover: key store location: %w (set PROOFMILL_KEYS)", err)
	}
	return filepath.Join(base, "proofmill", "keys"), nil
}

func (s KeyStore) path(id string) string {
	return filepath.Join(s.Dir, filepath.FromSlash(id))
}

// Manifest reads a circuit's manifest; ErrNoKeys when there is none.
func (s KeyStore) Manifest(id string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(s.path(id), fileManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("prover: load %s: %w (run `proofmill keys setup --circuit %s`)", id, ErrNoKeys, id)
	}
	if err != nil { // unreadable: the circuit cannot be used until someone looks
		return m, fmt.Errorf("prover: load %s: %w: %v", id, ErrCorruptKeys, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("prover: load %s: manifest: %w: %v", id, ErrCorruptKeys, err)
	}
	if m.Circuit != id {
		return m, fmt.Errorf("prover: load %s: %w: manifest is for %q", id, ErrCorruptKeys, m.Circuit)
	}
	return m, nil
}

// Load reads a circuit's keys, checking every file against the manifest
// before decoding it.
func (s KeyStore) Load(id string) (*Keys, error) {
	m, err := s.Manifest(id)
	if err != nil {
		return nil, err
	}
	if m.Platform != runtime.GOARCH {
		return nil, fmt.Errorf("prover: load %s: %w: proving key was dumped on %s, this is %s; run keys setup or import again",
			id, ErrCorruptKeys, m.Platform, runtime.GOARCH)
	}
	k := &Keys{CCS: groth16.NewCS(ecc.BN254), PK: groth16.NewProvingKey(ecc.BN254), VK: groth16.NewVerifyingKey(ecc.BN254), Manifest: m}
	for _, f := range []struct {
		name  string
		check func(io.ReaderAt, int64) error // nil: none
		read  func(io.Reader) error
	}{
		{fileCircuit, nil, func(r io.Reader) error { _, err := k.CCS.ReadFrom(r); return err }},
		{fileProvingKey, func(r io.ReaderAt, size int64) error {
			return checkDump(r, size, ecc.NextPowerOfTwo(uint64(k.CCS.GetNbConstraints())))
		}, func(r io.Reader) error { return k.PK.(*groth16bn254.ProvingKey).ReadDump(r) }},
		{fileVerifyingKey, nil, func(r io.Reader) error { _, err := k.VK.UnsafeReadFrom(r); return err }},
	} {
		if err := s.readChecked(id, f.name, m.SHA256[f.name], f.check, f.read); err != nil {
			return nil, err
		}
	}
	if n := k.CCS.GetNbConstraints(); n != m.Constraints {
		return nil, fmt.Errorf("prover: load %s: %w: %d constraints, manifest says %d", id, ErrCorruptKeys, n, m.Constraints)
	}
	return k, nil
}

// LoadVerifyingKey reads only a circuit's verifying key (checked), and its hash.
func (s KeyStore) LoadVerifyingKey(id string) (groth16.VerifyingKey, string, error) {
	m, err := s.Manifest(id)
	if err != nil {
		return nil, "", err
	}
	vk := groth16.NewVerifyingKey(ecc.BN254)
	sum := m.VerifyingKeyHash()
	err = s.readChecked(id, fileVerifyingKey, sum, nil, func(r io.Reader) error { _, err := vk.UnsafeReadFrom(r); return err })
	return vk, sum, err
}

// readChecked hashes a file, compares it to want, runs check (when set) over
// it, and only then decodes it: the dump formats trust their input, and a
// file whose hash was recomputed after damage must still fail as corrupt,
// never panic. A panic in decode is one more sign of damage.
func (s KeyStore) readChecked(id, name, want string, check func(io.ReaderAt, int64) error, decode func(io.Reader) error) (err error) {
	path := filepath.Join(s.path(id), name)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("prover: load %s: %s: %w: %s", id, path, ErrCorruptKeys, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return fail("%v", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fail("%v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fail("sha256 %s, manifest says %s", got, want)
	}
	if check != nil {
		info, err := f.Stat()
		if err != nil {
			return fail("%v", err)
		}
		if err := check(f, info.Size()); err != nil {
			return fail("layout: %v", err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail("%v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fail("decode: %v", r)
		}
	}()
	if err := decode(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return fail("decode: %v", err)
	}
	return nil
}

// keyFile is one file of a key set, and how it is written.
type keyFile struct {
	name  string
	write func(io.Writer) error
}

// files are the key set's files, in the store's formats.
func (k *Keys) files() []keyFile {
	return []keyFile{
		{fileCircuit, func(w io.Writer) error { _, err := k.CCS.WriteTo(w); return err }},
		{fileProvingKey, func(w io.Writer) error { return k.PK.(*groth16bn254.ProvingKey).WriteDump(w) }},
		{fileVerifyingKey, func(w io.Writer) error { _, err := k.VK.WriteRawTo(w); return err }},
	}
}

// Save writes a circuit's keys atomically: into a temporary folder that is
// renamed into place, so readers never see a half-written entry. Existing
// keys are never replaced: Save returns ErrKeysExist.
func (s KeyStore) Save(id string, k *Keys) error {
	final := s.path(id)
	if _, err := os.Stat(filepath.Join(final, fileManifest)); err == nil {
		return fmt.Errorf("prover: save %s: %w", id, ErrKeysExist)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("prover: save %s: %w", id, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return fmt.Errorf("prover: save %s: %w", id, err)
	}
	defer os.RemoveAll(tmp)

	m := k.Manifest
	m.Circuit, m.Constraints, m.Platform = id, k.CCS.GetNbConstraints(), runtime.GOARCH
	m.PublicInputs = k.VK.NbPublicWitness()
	m.SHA256 = map[string]string{}
	for _, f := range k.files() {
		sum, err := writeFile(filepath.Join(tmp, f.name), f.write)
		if err != nil {
			return fmt.Errorf("prover: save %s: %s: %w", id, f.name, err)
		}
		m.SHA256[f.name] = sum
	}
	for rel, src := range k.transcript {
		if err := copyFile(filepath.Join(tmp, dirCeremony, filepath.FromSlash(rel)), src); err != nil {
			return fmt.Errorf("prover: save %s: ceremony transcript: %w", id, err)
		}
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("prover: save %s: %w", id, err)
	}
	if _, err := writeFile(filepath.Join(tmp, fileManifest), func(w io.Writer) error { _, err := w.Write(manifest); return err }); err != nil {
		return fmt.Errorf("prover: save %s: manifest: %w", id, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, fileManifest)); statErr == nil {
			return fmt.Errorf("prover: save %s: %w", id, ErrKeysExist)
		}
		return fmt.Errorf("prover: save %s: %w", id, err)
	}
	k.Manifest = m
	return nil
}

// writeFile writes and syncs a file, returning its hex SHA-256.
func writeFile(path string, write func(io.Writer) error) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	err = errors.Join(write(bw), bw.Flush(), f.Sync(), f.Close())
	return hex.EncodeToString(h.Sum(nil)), err
}

// copyFile copies src to dst (making dst's folder), synced.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	_, err = writeFile(dst, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
	return err
}

// Remove deletes a circuit's keys.
func (s KeyStore) Remove(id string) error {
	if strings.TrimSpace(id) == "" {
		return errors.New("prover: remove: empty circuit id")
	}
	return os.RemoveAll(s.path(id))
}

// Put saves keys for circuit id, replacing what is there when force is
// set; without it, existing keys are an ErrKeysExist.
func (s KeyStore) Put(id string, k *Keys, force bool) error {
	if force {
		if err := s.Remove(id); err != nil {
			return err
		}
	}
	return s.Save(id, k)
}

// CircuitInfo is a registered circuit and what the key store has for it.
type CircuitInfo struct {
	*circuits.Circuit
	Summary
}

// Catalog lists every registered circuit with its keys' summary.
func (s KeyStore) Catalog() []CircuitInfo {
	var out []CircuitInfo
	for _, c := range circuits.All() {
		out = append(out, CircuitInfo{Circuit: c, Summary: s.Summary(c)})
	}
	return out
}

// MarshalJSON writes the circuit as `proofmill circuits --json` lists it.
func (c CircuitInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID           string        `json:"id"`
		Description  string        `json:"description"`
		Constraints  int           `json:"constraints"`
		Keys         string        `json:"keys"`
		PublicInputs []string      `json:"public_inputs"`
		Schema       []input.Field `json:"schema"`
	}{c.ID, c.Description, c.Summary.Constraints, c.Origin, c.PublicInputs, c.Schema})
}
