// Package newfile writes the files that must never be replaced once made:
// keys and secrets. A file already there is left alone (os.ErrExist), a
// half-written one is removed, and the folder is made private.
package newfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write creates path with data and mode, its folder with 0700 if missing,
// and syncs it. An existing file is an error wrapping os.ErrExist.
func Write(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		os.Remove(path) // a half-written key would fail every later load
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
