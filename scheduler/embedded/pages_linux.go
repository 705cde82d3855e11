package embedded

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releasePages hands back this process's mapping of the journal's pages
// (MADV_DONTNEED on bbolt's read-only shared mapping): the open-time check
// reads every page, and a server should not then hold a multi-gigabyte
// journal in its resident memory. The pages stay in the kernel's page
// cache; a later read maps them again. It must run inside tx: an open
// transaction keeps bbolt from moving the mapping. Best effort: an error
// leaves the pages mapped.
func releasePages(db *bolt.DB, tx *bolt.Tx) {
	info := db.Info()
	if info == nil || info.Data == 0 || tx.Size() <= 0 {
		return
	}
	unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(tx.Size()), unix.MADV_DONTNEED)
}
