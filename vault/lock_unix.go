//go:build unix

package vault

import (
	"os"
	"syscall"
)

// lockFile waits for an exclusive advisory lock on f; closing f releases it.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
