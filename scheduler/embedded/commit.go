package embedded

import (
	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/internal/groupcommit"
)

// maxGroup bounds how many writes share one transaction, so that one
// commit stays short when thousands wait.
const maxGroup = 256

// errClosed: a write after Close.
var errClosed = groupcommit.ErrClosed

// jobWrite is one job's change, run inside a shared transaction. It must
// not write before it fails: a failed jobWrite is that write's error
// alone, and the transaction goes on with the others.
type jobWrite func(*bolt.Tx) error

// commitGroups runs concurrent job writes in one bbolt transaction, and so
// one fsync (see groupcommit).
func commitGroups(db *bolt.DB, path string) func(ws []jobWrite) []error {
	return func(ws []jobWrite) []error {
		errs := make([]error, len(ws))
		err := func() (err error) {
			defer guard(path, &err)()
			return db.Update(func(tx *bolt.Tx) error {
				for i, w := range ws {
					errs[i] = w(tx)
				}
				return nil
			})
		}()
		if err != nil { // the transaction's (the disk, the file): every write's
			for i := range errs {
				errs[i] = err
			}
		}
		return errs
	}
}
