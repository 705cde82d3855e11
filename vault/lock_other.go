//go:build !unix

package vault

import "os"

// lockFile does nothing where flock is missing: one writer at a time is
// then the operator's to keep.
func lockFile(*os.File) error { return nil }
