package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// FileRing keeps the data keys in a file (mode 0600) beside the embedded
// journal. Writers take an advisory lock on PATH.lock and replace the file
// whole, so a command run beside a live server (`keys data-key rotate`)
// is safe; the server picks the change up at its next read.
type FileRing struct{ Path string }

type ringFile struct {
	Keys []DataKey `json:"data_keys"`
}

func (r FileRing) DataKeys(context.Context) ([]DataKey, error) {
	f, err := r.load()
	return f.Keys, err
}

func (r FileRing) AddDataKey(_ context.Context, k DataKey) (bool, error) {
	added := false
	err := r.change(func(f *ringFile) {
		if !slices.ContainsFunc(f.Keys, func(s DataKey) bool { return s.Tenant == k.Tenant && s.Version == k.Version }) {
			f.Keys, added = append(f.Keys, k), true
		}
	})
	return added, err
}

func (r FileRing) ReplaceDataKey(_ context.Context, k DataKey) error {
	return r.change(func(f *ringFile) {
		for i, s := range f.Keys {
			if s.Tenant == k.Tenant && s.Version == k.Version {
				f.Keys[i] = k
			}
		}
	})
}

func (r FileRing) DeleteDataKey(_ context.Context, tenant string, version int) error {
	return r.change(func(f *ringFile) {
		f.Keys = slices.DeleteFunc(f.Keys, func(s DataKey) bool { return s.Tenant == tenant && s.Version == version })
	})
}

func (r FileRing) load() (ringFile, error) {
	var f ringFile
	data, err := os.ReadFile(r.Path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	} else if err != nil {
		return f, fmt.Errorf("vault: %w", err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("vault: data keys %s are damaged (%v): restore the file from a backup; without it, queued jobs' inputs cannot be read", r.Path, err)
	}
	return f, nil
}

// change edits the file under its lock, and replaces it durably.
func (r FileRing) change(edit func(f *ringFile)) error {
	if err := os.MkdirAll(filepath.Dir(r.Path), 0o700); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	lock, err := os.OpenFile(r.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("vault: locking %s: %w", lock.Name(), err)
	}
	f, err := r.load()
	if err != nil {
		return err
	}
	edit(&f)
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	tmp := r.Path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if _, err = out.Write(append(data, '\n')); err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.Path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vault: writing %s: %w", r.Path, err)
	}
	if dir, err := os.Open(filepath.Dir(r.Path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}
