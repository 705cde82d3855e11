package node

import (
	"os"
	"os/exec"
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

// dieWithParent has the kernel kill a device process when its parent
// dies, even by kill -9: an orphan would hold its GPU, proving for no one.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
