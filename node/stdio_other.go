//go:build !linux

package node

import "os"

// protocolStdout is stdout itself where file descriptors cannot be moved.
func protocolStdout() (*os.File, error) { return os.Stdout, nil }
