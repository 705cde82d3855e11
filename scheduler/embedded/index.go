package embedded

import (
	"encoding/binary"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/scheduler"
)

// Two indexes beside the jobs keep a restart and housekeeping from reading
// every record:
//
//   - "unfinished": each queued or running job, keyed by submission time
//     (submittedKey), valued with what recovery and the counts need
//     (unfinishedEntry); a restart walks it, oldest first, and never opens
//     a record;
//   - "finished": each ended job, keyed by end time (finishedKey), valued
//     with its state; expiry walks it in time order and the counts by
//     state come from it.
//
// Both are written in the transaction that writes the job (put).
var (
	bucketUnfinished = []byte("unfinished")
	bucketFinished   = []byte("finished")
)

// timeKey is 8 bytes of Unix nanoseconds, big-endian, then the id: keys in
// time order.
func timeKey(at time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(at.UnixNano()))
	return append(k, id...)
}

// finishedKey orders ended jobs by end time.
func finishedKey(at time.Time, id string) []byte { return timeKey(at, id) }

// submittedKey orders unfinished jobs by submission.
func submittedKey(at time.Time, id string) []byte { return timeKey(at, id) }

// keyID is the job id a timeKey names.
func keyID(k []byte) string { return string(k[8:]) }

// unfinishedEntry is an unfinished job as its index entry keeps it.
type unfinishedEntry struct {
	State    scheduler.State
	Priority scheduler.Priority
	Deadline time.Time
	Tenant   string
}

var errBadEntry = errors.New("embedded: damaged index entry")

// encode is the entry's value: priority (1 byte), deadline (8 bytes of Unix
// nanoseconds, 0 for none), the state's length (1 byte) and the state,
// then the tenant.
func (e unfinishedEntry) encode() []byte {
	out := make([]byte, 0, 10+len(e.State)+len(e.Tenant))
	out = append(out, byte(e.Priority))
	var deadline uint64
	if !e.Deadline.IsZero() {
		deadline = uint64(e.Deadline.UnixNano())
	}
	out = binary.BigEndian.AppendUint64(out, deadline)
	out = append(out, byte(len(e.State)))
	out = append(out, e.State...)
	return append(out, e.Tenant...)
}

func decodeEntry(v []byte) (unfinishedEntry, error) {
	if len(v) < 10 || len(v) < 10+int(v[9]) {
		return unfinishedEntry{}, errBadEntry
	}
	e := unfinishedEntry{Priority: scheduler.Priority(v[0])}
	if ns := binary.BigEndian.Uint64(v[1:9]); ns != 0 {
		e.Deadline = time.Unix(0, int64(ns))
	}
	n := int(v[9])
	e.State = scheduler.State(v[10 : 10+n])
	e.Tenant = string(v[10+n:])
	return e, nil
}

// indexed is what the indexes need of a job as it is stored.
type indexed struct {
	ID        string
	State     scheduler.State
	Priority  scheduler.Priority
	Tenant    string
	Deadline  time.Time
	Submitted time.Time
	Finished  time.Time
}

// reindex moves a job's index entries from as it was (nil: not stored) to
// as it is (nil: deleted).
func reindex(tx *bolt.Tx, was, is *indexed) error {
	unfinished, finished := tx.Bucket(bucketUnfinished), tx.Bucket(bucketFinished)
	if was != nil {
		var err error
		if was.State.Terminal() {
			err = finished.Delete(finishedKey(was.Finished, was.ID))
		} else {
			err = unfinished.Delete(submittedKey(was.Submitted, was.ID))
		}
		if err != nil {
			return err
		}
	}
	switch {
	case is == nil:
		return nil
	case is.State.Terminal():
		return finished.Put(finishedKey(is.Finished, is.ID), []byte(is.State))
	default:
		e := unfinishedEntry{State: is.State, Priority: is.Priority, Deadline: is.Deadline, Tenant: is.Tenant}
		return unfinished.Put(submittedKey(is.Submitted, is.ID), e.encode())
	}
}

// buildIndexes makes both indexes from the records, for a journal written
// before them (an older one has a finished index without states: it is
// made afresh, and so is one half made). A damaged record is left out: it is reported by the
// open-time check, and never served.
func buildIndexes(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketFinished, bucketUnfinished} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
		var m meta
		if _, err := decode(k, v, &m); err != nil {
			return nil
		}
		return reindex(tx, nil, m.indexed(string(k)))
	})
}
