//go:build !unix

package audit

import "os"

// lock does nothing where flock is missing: run one writer per log.
func lock(*os.File) error { return nil }
