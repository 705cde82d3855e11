package node

import (
	"os"
	"syscall"
)

// protocolStdout moves this process's stdout aside for the device
// protocol and points file descriptor 1 at stderr, so that C libraries
// (ICICLE prints to stdout) cannot write into the protocol's frames.
func protocolStdout() (*os.File, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, err
	}
	if err := syscall.Dup3(2, 1, 0); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "device-protocol"), nil
}
