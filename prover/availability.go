package prover

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/proofmill/proofmill/circuits"
)

// keyState is what the last load of a circuit's keys found.
type keyState struct {
	err  error  // nil: loaded
	seen string // the key folder's fingerprint when err was found
}

// fingerprint names the state of a circuit's key files (the manifest's
// content, the size and time of each file), so a failed load is tried
// again once someone changes them (keys setup, keys import), and not on
// every submission before that.
func (s KeyStore) fingerprint(id string) string {
	manifest, _ := os.ReadFile(filepath.Join(s.path(id), fileManifest))
	sum := sha256.Sum256(manifest)
	out := hex.EncodeToString(sum[:]) + ";"
	for _, name := range []string{fileManifest, fileCircuit, fileProvingKey, fileVerifyingKey} {
		if info, err := os.Stat(filepath.Join(s.path(id), name)); err == nil {
			out += fmt.Sprintf("%s %d %d;", name, info.Size(), info.ModTime().UnixNano())
		} else {
			out += name + " -;"
		}
	}
	return out
}

// record notes a load's outcome and tells OnKeys.
func (p *Prover) record(c *circuits.Circuit, err error, seen string) {
	p.mu.Lock()
	p.state[c.ID] = keyState{err: err, seen: seen}
	p.mu.Unlock()
	p.onKeys(c.ID, err)
}

// KeysStatus says why circuit c cannot be proven now, from what is known
// without loading anything: the error of the last load while the key files
// are unchanged since, no keys (and no DevSetup to make them), or a
// manifest that cannot be read; no keys for a circuit whose keys are made
// only when asked (circuits.ImplicitKeysLimit), DevSetup or not. Nil when its keys are loaded, or may well
// load. Cheap: for listings and health.
func (p *Prover) KeysStatus(c *circuits.Circuit) error {
	p.mu.Lock()
	st, known := p.state[c.ID]
	p.mu.Unlock()
	if known && (st.err == nil || st.seen == p.store.fingerprint(c.ID)) {
		return st.err
	}
	if _, err := p.store.Manifest(c.ID); errors.Is(err, ErrNoKeys) && p.devSetup && c.KeysOnlyWhenAsked() {
		return notAsked(c)
	} else if err != nil && !(errors.Is(err, ErrNoKeys) && p.devSetup) {
		return err
	}
	return nil
}

// Ready says whether circuit c can be proven now, loading its keys when
// that was not tried yet (or the files changed since a failed try): a
// submission's check, so a job for keys that cannot load is refused at
// once instead of failing every attempt. A circuit without keys that
// DevSetup will make is ready; one above circuits.ImplicitKeysLimit without
// keys is not (ErrNoKeys, saying how to make them).
func (p *Prover) Ready(c *circuits.Circuit) error {
	p.mu.Lock()
	st, known := p.state[c.ID]
	p.mu.Unlock()
	switch {
	case known && st.err == nil:
		return nil
	case known && st.seen == p.store.fingerprint(c.ID):
		return st.err
	}
	if _, err := p.store.Manifest(c.ID); errors.Is(err, ErrNoKeys) && p.setsUp(c) {
		return nil // made on first use, by the worker
	}
	_, err := p.Keys(c)
	return err
}
