//go:build !linux

package node

import (
	"os"
	"os/exec"
)

// protocolStdout is stdout itself where file descriptors cannot be moved.
func protocolStdout() (*os.File, error) { return os.Stdout, nil }

// dieWithParent is a no-op where the kernel offers no parent-death signal;
// a device process there ends when it reads its closed stdin.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd { return cmd }
