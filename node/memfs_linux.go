package node

import "syscall"

// File system magic numbers (statfs(2)) of the file systems that live in
// memory: a reboot empties them.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// inMemoryFS reports whether dir lies on tmpfs or ramfs; false when it
// cannot tell.
func inMemoryFS(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == tmpfsMagic || st.Type == ramfsMagic
}
