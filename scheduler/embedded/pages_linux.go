package embedded

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releasePages hands back this process's mapping of the journal's pages
// (MADV_DONTNEED on bbolt's read-only shared mapping): the open-time check
// reads every page, and a server should not then hold a multi-gigabyte
// journal in its resident memory. The pages stay in the kernel's page
// cache; a later read maps them again. Best effort: an error leaves them
// mapped.
func releasePages(db *bolt.DB, size int64) {
	info := db.Info()
	if info == nil || info.Data == 0 || size <= 0 {
		return
	}
	unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED)
}
