package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/errcode"
)

// Report is what a check of a journal found.
type Report struct {
	Path      string
	Bytes     int64    // the file's size
	Marker    bool     // the marker says a journal was made here
	Checked   int      // records whose checksum matched
	Unchecked int      // records from before checksums: they read, with no sum to check
	Damaged   []Damage // records that fail their checksum or do not decode
	Structure []string // bbolt's consistency check's findings
}

// Damage is one damaged record.
type Damage struct {
	Job string // the record's key: the job id
	Why string
}

// Err is nil for a sound journal, else a CorruptRecord error saying what
// to do.
func (r *Report) Err() error {
	if len(r.Structure) > 0 {
		return damagedJournal(r.Path, "bbolt's consistency check failed")
	}
	if len(r.Damaged) > 0 {
		return errcode.Errorf(errcode.CorruptRecord, "journal %s: %d damaged record(s); a server refuses these jobs (DATA_LOSS) and serves the rest. "+
			"To get them back, stop the server and restore %s from a backup taken before the damage", r.Path, len(r.Damaged), filepath.Base(r.Path))
	}
	return nil
}

// Check checks the open journal: bbolt's consistency check of its pages,
// and every record's checksum. It holds the writer's lock meanwhile (bbolt's
// check reads the free list, which writers change).
func (s *Store) Check(context.Context) (r *Report, err error) {
	r = &Report{Path: s.path}
	if r.Marker, err = hasMarker(s.path); err != nil {
		return nil, err
	}
	if st, err := os.Stat(s.path); err == nil {
		r.Bytes = st.Size()
	}
	defer guard(s.path, &err)()
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("embedded: check: %w", err)
	}
	defer tx.Rollback() // nothing to commit
	r.Structure = consistency(tx)
	return r, r.scan(tx)
}

// Inspect checks the journal at path without changing it, as Check does;
// it opens the file read-only, so it waits for (then names) a process that
// has it open for writing. A journal Open would refuse is refused here
// too, with the same error.
func Inspect(path string, o Options) (r *Report, err error) {
	r = &Report{Path: path}
	if r.Marker, err = hasMarker(path); err != nil {
		return nil, err
	}
	db, _, err := openDB(path, o, r.Marker, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if st, err := os.Stat(path); err == nil {
		r.Bytes = st.Size()
	}
	defer guard(path, &err)()
	return r, db.View(r.scan) // openDB ran bbolt's check already
}

func (r *Report) scan(tx *bolt.Tx) error {
	b := tx.Bucket(bucketJobs)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		payload, legacy, err := unseal(k, v)
		if err == nil {
			var m meta
			err = json.Unmarshal(payload, &m)
		}
		switch {
		case err != nil:
			r.Damaged = append(r.Damaged, Damage{Job: string(k), Why: err.Error()})
		case legacy:
			r.Unchecked++
		default:
			r.Checked++
		}
		return nil
	})
}

// String is the report for a person: what was checked, what is wrong,
// and what to do.
func (r *Report) String() string {
	s := fmt.Sprintf("journal %s (%d bytes)\n", r.Path, r.Bytes)
	if len(r.Structure) == 0 {
		s += "  file structure (bbolt's consistency check): sound\n"
	} else {
		s += "  file structure (bbolt's consistency check): DAMAGED\n"
		for _, p := range r.Structure {
			s += "    " + p + "\n"
		}
	}
	s += fmt.Sprintf("  records: %d with a matching checksum, %d from before checksums (read, nothing to check), %d damaged\n",
		r.Checked, r.Unchecked, len(r.Damaged))
	for _, d := range r.Damaged {
		s += fmt.Sprintf("    job %s: %s\n", d.Job, d.Why)
	}
	if !r.Marker {
		s += "  no marker file yet: the next `proofmill serve` on this folder writes one\n"
	}
	if r.Err() == nil {
		s += "  sound: nothing to do\n"
	}
	return s
}
