package prover

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/proofmill/proofmill/circuits"
)

// VerifyCeremony checks that k, loaded from the store, are the keys their
// ceremony made: the transcript kept under the circuit's ceremony/ folder
// verifies (both chains, srs.bin, both beacons), hashes to what the
// manifest says, and yields exactly these constraint system and key files.
// The manifest's origin alone proves nothing: anyone can edit it. Anything
// short of that is ErrDevelopmentKeys, saying what to do.
func (s KeyStore) VerifyCeremony(c *circuits.Circuit, k *Keys) error {
	m := k.Manifest
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("prover: %s: %w: %s; import keys from a ceremony: proofmill keys import --circuit %s --dir CEREMONY --beacon HEX --force",
			c.ID, ErrDevelopmentKeys, fmt.Sprintf(format, args...), c.ID)
	}
	if m.Origin != OriginCeremony {
		return refuse("its keys are of origin %q", m.Origin)
	}
	if m.Ceremony == nil || m.Ceremony.Beacon == "" {
		return refuse("its manifest says %q but records no ceremony transcript to verify (keys imported before proofmill kept transcripts need importing again)", m.Origin)
	}
	beacon, err := hex.DecodeString(m.Ceremony.Beacon)
	if err != nil {
		return refuse("the manifest's ceremony beacon: %v", err)
	}
	dir := filepath.Join(s.path(c.ID), dirCeremony)
	cer, err := OpenCeremony(dir, c)
	if err != nil {
		return refuse("no ceremony transcript in %s: %v", dir, err)
	}
	made, err := cer.Verify(beacon)
	if err != nil {
		return refuse("its ceremony transcript does not verify: %v", err)
	}
	if got := made.Manifest.Ceremony.Transcript; got != m.Ceremony.Transcript {
		return refuse("the transcript in %s hashes to %s, the manifest says %s", dir, got, m.Ceremony.Transcript)
	}
	for _, f := range made.files() {
		h := sha256.New()
		if err := f.write(h); err != nil {
			return fmt.Errorf("prover: %s: %w", c.ID, err)
		}
		if hex.EncodeToString(h.Sum(nil)) != m.SHA256[f.name] {
			return refuse("%s is not the one its ceremony made", f.name)
		}
	}
	return nil
}

// verdicts remembers, across restarts, which key sets' ceremonies have
// verified here: verifying takes about as long as the ceremony's own
// seal and verify steps (42 s for invoice-consistency/v1 on 2 busy
// cores), too long for every start. An entry names the key set by the
// hashes of its files, transcript and beacon, and holds an HMAC of that
// name under a secret kept beside it (0600), so an entry cannot be
// written without reading the secret. Dir "" caches nothing.
type verdicts struct{ dir string }

func (v verdicts) name(id string, m Manifest) string {
	h := sha256.New()
	fmt.Fprintf(h, "proofmill ceremony verdict v1\n%s\n%s\n%s\n%s\n", id, m.SHA256[fileCircuit], m.SHA256[fileProvingKey], m.SHA256[fileVerifyingKey])
	if m.Ceremony != nil {
		fmt.Fprintf(h, "%s\n%s\n", m.Ceremony.Transcript, m.Ceremony.Beacon)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (v verdicts) mac(secret []byte, name string) string {
	h := hmac.New(sha256.New, secret)
	io.WriteString(h, name)
	return hex.EncodeToString(h.Sum(nil))
}

// secret reads the cache's secret, making it on first use.
func (v verdicts) secret() ([]byte, error) {
	path := filepath.Join(v.dir, "secret")
	if data, err := os.ReadFile(path); err == nil && len(data) == 32 {
		return data, nil
	} else if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ceremony verdicts: %s: unreadable or not 32 bytes (remove it to start afresh): %v", path, err)
	}
	if err := os.MkdirAll(v.dir, 0o700); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process made it first
		return v.secret()
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(func() error { _, err := f.Write(secret); return err }(), f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	return secret, nil
}

// has says whether the key set's ceremony verified here before.
func (v verdicts) has(id string, m Manifest) bool {
	if v.dir == "" {
		return false
	}
	secret, err := v.secret()
	if err != nil {
		return false
	}
	name := v.name(id, m)
	data, err := os.ReadFile(filepath.Join(v.dir, name))
	return err == nil && hmac.Equal(data, []byte(v.mac(secret, name)))
}

// put records that the key set's ceremony verified.
func (v verdicts) put(id string, m Manifest) error {
	if v.dir == "" {
		return nil
	}
	secret, err := v.secret()
	if err != nil {
		return err
	}
	name := v.name(id, m)
	_, err = writeFile(filepath.Join(v.dir, name), func(w io.Writer) error { _, err := io.WriteString(w, v.mac(secret, name)); return err })
	return err
}

// checkCeremony is production's check of loaded keys: their ceremony
// verified here before (the cached verdict), or verifies now.
func (p *Prover) checkCeremony(c *circuits.Circuit, k *Keys) error {
	if k.Manifest.Origin == OriginCeremony && p.verdicts.has(c.ID, k.Manifest) {
		p.log.Info("ceremony verified before", "circuit", c.ID, "transcript", k.Manifest.Ceremony.Transcript, "cache", p.verdicts.dir)
		return nil
	}
	start := time.Now()
	if err := p.store.VerifyCeremony(c, k); err != nil {
		return err
	}
	p.log.Info("ceremony transcript verified", "circuit", c.ID, "transcript", k.Manifest.Ceremony.Transcript,
		"contributions", k.Manifest.Ceremony.Contributions, "took", time.Since(start).Round(time.Millisecond))
	if err := p.verdicts.put(c.ID, k.Manifest); err != nil {
		p.log.Warn("could not cache the ceremony verdict; the next start verifies again", "circuit", c.ID, "err", err)
	}
	return nil
}
