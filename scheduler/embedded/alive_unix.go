//go:build unix

package embedded

import "syscall"

// gone reports whether no process with pid runs on this machine.
func gone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }
