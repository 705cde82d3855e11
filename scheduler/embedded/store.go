package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/diskfull"
	"github.com/proofmill/proofmill/internal/groupcommit"
	"github.com/proofmill/proofmill/scheduler"
)

// bucketJobs holds the records; index.go the indexes beside them.
var bucketJobs = []byte("jobs")

// Store keeps jobs in a bbolt file. Every write is committed (fsync) before
// it returns, so an accepted job is on disk before the client hears of it;
// concurrent job writes share a commit (see commitGroups).
// Every record carries a checksum, checked on every read; a damaged record
// is a CorruptRecord error naming its job, logged, never served, and
// listings skip it.
type Store struct {
	db     *bolt.DB
	path   string
	log    *slog.Logger
	commit *groupcommit.Group[jobWrite] // Create and Update

	// Counts kept in memory: this process owns the file.
	mu         sync.Mutex
	unfinished map[string]int             // per tenant
	queued     map[scheduler.Priority]int // jobs waiting, per priority
	states     map[scheduler.State]int    // stored jobs, per state
	damagedIDs map[string]bool            // records found damaged (they stay so: no write replaces one)
	closed     bool
}

// Options tunes OpenWith. The zero value is usable.
type Options struct {
	Logger *slog.Logger // where damaged records are reported; nil: slog.Default()
	// LockTimeout is how long to wait for another process to let go of
	// the journal; 0 means 5 s.
	LockTimeout time.Duration
}

// meta is what the counts and the indexes need of a job's record.
type meta struct {
	Tenant    string             `json:"tenant"`
	State     scheduler.State    `json:"state"`
	Priority  scheduler.Priority `json:"priority"`
	Version   uint64             `json:"version"`
	Deadline  time.Time          `json:"deadline"`
	Submitted time.Time          `json:"submitted"`
	Finished  time.Time          `json:"finished"`
}

func metaOf(j *scheduler.Job) *meta {
	return &meta{Tenant: j.Tenant, State: j.State, Priority: j.Priority, Version: j.Version,
		Deadline: j.Deadline, Submitted: j.Submitted, Finished: j.Finished}
}

func (m *meta) indexed(id string) *indexed {
	return &indexed{ID: id, State: m.State, Priority: m.Priority, Tenant: m.Tenant,
		Deadline: m.Deadline, Submitted: m.Submitted, Finished: m.Finished}
}

// Open opens or creates the store at path, with the default Options.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith opens or creates the store at path. It refuses, with a
// CorruptRecord error that says how to restore or start afresh, a journal
// that is missing or empty where one was made (see the marker file), cut
// short, or inconsistent (bbolt's own check); one held by another process
// is Unavailable, naming that process. Damaged records do not stop it:
// they are logged and skipped.
func OpenWith(path string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	made, err := hasMarker(path)
	if err != nil {
		return nil, err
	}
	db, damaged, err := openDB(path, o, made, false)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, log: o.Logger,
		unfinished: map[string]int{}, queued: map[scheduler.Priority]int{}, states: map[scheduler.State]int{}, damagedIDs: map[string]bool{}}
	if err := s.start(made, damaged); err != nil {
		db.Close()
		return nil, err
	}
	s.commit = groupcommit.Start(maxGroup, commitGroups(db, path))
	return s, nil
}

// start readies an opened journal: the buckets (indexing the jobs of a
// journal made before the indexes), the marker, the owner file and the
// counts, which come from the indexes: a start opens no record. damaged
// are the records the open-time check found damaged.
func (s *Store) start(made bool, damaged []string) error {
	for _, id := range damaged {
		s.damagedIDs[id] = true
	}
	err := s.update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketJobs); err != nil || tx.Bucket(bucketUnfinished) != nil && tx.Bucket(bucketFinished) != nil {
			return err
		}
		if n := tx.Bucket(bucketJobs).Stats().KeyN; n > 0 {
			s.log.Info("journal: indexing the jobs of a journal made before the indexes, once", "journal", s.path, "jobs", n)
		}
		return buildIndexes(tx)
	})
	if err == nil && !made {
		err = writeMarker(s.path)
	}
	if err == nil {
		err = writeOwner(s.path)
	}
	if err != nil {
		return s.writeErr(fmt.Sprintf("open %s", s.path), err)
	}
	if err := s.countIndexes(); err != nil {
		os.Remove(ownerPath(s.path))
		return fmt.Errorf("embedded: open %s: %w", s.path, err)
	}
	if len(damaged) > 0 {
		s.log.Error("journal: damaged records, skipped; run `proofmill journal check` with the server stopped", "journal", s.path, "damaged", len(damaged))
	}
	return nil
}

// countIndexes counts the jobs by state, the unfinished ones by tenant and
// the queued ones by priority, from the indexes, leaving out damaged
// records.
func (s *Store) countIndexes() error {
	return s.view(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketUnfinished).ForEach(func(k, v []byte) error {
			if s.damagedIDs[keyID(k)] {
				return nil
			}
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("unfinished index, job %s: %w", keyID(k), err)
			}
			s.note(nil, &meta{State: e.State, Priority: e.Priority, Tenant: e.Tenant})
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketFinished).ForEach(func(k, v []byte) error {
			if !s.damagedIDs[keyID(k)] {
				s.note(nil, &meta{State: scheduler.State(v)})
			}
			return nil
		})
	})
}

// openDB opens the bbolt file, refusing what cannot be trusted (see
// OpenWith); made says a journal was made here before. damaged are the
// records that fail their checksum.
func openDB(path string, o Options, made, readOnly bool) (db *bolt.DB, damaged []string, err error) {
	st, err := os.Stat(path)
	switch {
	case made && errors.Is(err, fs.ErrNotExist):
		return nil, nil, damagedJournal(path, "the file is missing (the marker beside it says one was made here)")
	case made && err == nil && st.Size() == 0:
		return nil, nil, damagedJournal(path, "the file is empty (the marker beside it says one was made here)")
	case readOnly && errors.Is(err, fs.ErrNotExist):
		return nil, nil, errcode.Errorf(errcode.Usage, "embedded: no journal at %s", path)
	}
	timeout := o.LockTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	// A panic or fault inside bolt.Open leaves its file mapped, and so
	// locked, until this process ends; serve exits on the error anyway.
	defer guard(path, &err)()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: readOnly})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, nil, inUse(path, readOnly)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, nil, damagedJournal(path, err.Error())
	case err != nil && diskfull.Is(err):
		return nil, nil, noSpace(path, err)
	case err != nil:
		return nil, nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	if damaged, err = checkDB(db, path); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, damaged, nil
}

// checkDB refuses a file shorter than its own header says, or one whose
// pages bbolt finds inconsistent, and returns the records that fail their
// checksum. It reads every record first, in this goroutine (where a read
// past the mapped file is a panic that guard catches), since bbolt's Check
// reads pages in a goroutine of its own.
func checkDB(db *bolt.DB, path string) (damaged []string, err error) {
	defer guard(path, &err)()
	err = db.View(func(tx *bolt.Tx) error {
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
		if st.Size() < tx.Size() {
			return damagedJournal(path, fmt.Sprintf("cut short: the file is %d bytes, its header says %d", st.Size(), tx.Size()))
		}
		if b := tx.Bucket(bucketJobs); b != nil {
			b.ForEach(func(k, v []byte) error {
				if _, _, err := unseal(k, v); err != nil { // reads every byte
					damaged = append(damaged, string(k))
				}
				return nil
			})
		}
		if problems := consistency(tx); len(problems) > 0 {
			return damagedJournal(path, "bbolt's consistency check: "+strings.Join(problems, "; "))
		}
		releasePages(db, tx) // every page was read: hand them back
		return nil
	})
	return damaged, err
}

// consistency runs bbolt's check of the file's pages; it returns the
// first few problems (and how many more there were).
func consistency(tx *bolt.Tx) []string {
	var out []string
	n := 0
	for err := range tx.Check() {
		if n++; n <= 5 {
			out = append(out, err.Error())
		}
	}
	if n > 5 {
		out = append(out, fmt.Sprintf("and %d more", n-5))
	}
	return out
}

// guard turns a panic in bbolt (an assertion, or a fault reading a damaged
// mapped file) into a damaged-journal error in *err. Use as defer guard(..)().
func guard(path string, err *error) func() {
	fault := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(fault)
		if r := recover(); r != nil {
			size := "unknown"
			if st, serr := os.Stat(path); serr == nil {
				size = fmt.Sprint(st.Size())
			}
			*err = damagedJournal(path, fmt.Sprintf("bbolt failed reading it (%v); the file is %s bytes, perhaps cut short or overwritten", r, size))
		}
	}
}

func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer guard(s.path, &err)()
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	defer guard(s.path, &err)()
	return s.db.Update(fn)
}

// writeErr words a failed write; one that did not fit is retryable.
func (s *Store) writeErr(op string, err error) error {
	if diskfull.Is(err) {
		return fmt.Errorf("embedded: %s: %w", op, noSpace(s.path, err))
	}
	return fmt.Errorf("embedded: %s: %w", op, err)
}

// damaged notes a damaged record a listing met, logging it the first time.
func (s *Store) damaged(id string, err error) {
	if !s.mark(id) {
		s.log.Error("journal: damaged record skipped", "journal", s.path, "job", id, "err", err)
	}
}

// mark notes a damaged record and reports whether it was known.
func (s *Store) mark(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := s.damagedIDs[id]
	s.damagedIDs[id] = true
	return seen
}

// Damaged reports whether a read found the job's record damaged; the
// Queue's Drop.
func (s *Store) Damaged(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.damagedIDs[id]
}

// loudly logs a damaged record or journal that a read of job id met, every
// time: someone asked for it.
func (s *Store) loudly(id string, err error) {
	if errors.Is(err, ErrDamagedRecord) {
		s.mark(id)
	}
	if errcode.Of(err) == errcode.CorruptRecord {
		s.log.Error("journal: damaged, not served", "journal", s.path, "job", id, "err", err)
	}
}

// note moves the counts from a job as it was (nil: not stored) to as it is.
func (s *Store) note(was, is *meta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if was != nil {
		s.states[was.State]--
		if !was.State.Terminal() {
			s.unfinished[was.Tenant]--
		}
		if was.State == scheduler.Queued {
			s.queued[was.Priority]--
		}
	}
	if is != nil {
		s.states[is.State]++
	}
	if is != nil && !is.State.Terminal() {
		s.unfinished[is.Tenant]++
	}
	if is != nil && is.State == scheduler.Queued {
		s.queued[is.Priority]++
	}
}

// CountQueued counts the jobs waiting at each priority.
func (s *Store) CountQueued(context.Context) (map[scheduler.Priority]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[scheduler.Priority]int, len(s.queued))
	for p, n := range s.queued {
		out[p] = n
	}
	return out, nil
}

func (s *Store) CountUnfinished(_ context.Context, tenant string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unfinished[tenant], nil
}

// Close commits the writes under way, removes the owner file and closes
// the journal, releasing it for another process. Closing again does
// nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	if closed {
		return nil
	}
	s.commit.Stop()
	os.Remove(ownerPath(s.path)) // before the lock goes: the next owner writes its own
	return s.db.Close()
}

func (s *Store) Create(_ context.Context, job *scheduler.Job) (*scheduler.Job, bool, error) {
	var existing *scheduler.Job
	err := s.commit.Do(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		if data := b.Get([]byte(job.ID)); data != nil {
			existing = new(scheduler.Job)
			_, err := decode([]byte(job.ID), data, existing)
			return err
		}
		return put(tx, job, nil)
	})
	if err != nil {
		s.loudly(job.ID, err)
		return nil, false, s.writeErr("create "+job.ID, err)
	}
	if existing != nil {
		return existing, false, nil
	}
	s.note(nil, metaOf(job))
	return job, true, nil
}

func (s *Store) Get(_ context.Context, id string) (*scheduler.Job, error) {
	var j *scheduler.Job
	err := s.view(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketJobs).Get([]byte(id))
		if data == nil {
			return scheduler.ErrNotFound
		}
		j = new(scheduler.Job)
		_, err := decode([]byte(id), data, j)
		return err
	})
	if err != nil {
		s.loudly(id, err)
		return nil, fmt.Errorf("embedded: get %s: %w", id, err)
	}
	return j, nil
}

func (s *Store) Update(_ context.Context, job *scheduler.Job) error { return s.update1(job, nil) }

// UpdateCounting is Update, adding u to its usage tally in the same
// transaction (see usage.go).
func (s *Store) UpdateCounting(_ context.Context, job *scheduler.Job, u scheduler.Usage) error {
	return s.update1(job, &u)
}

// update1 writes job, and adds u (nil: nothing) to usage.
func (s *Store) update1(job *scheduler.Job, u *scheduler.Usage) error {
	was := new(meta)
	err := s.commit.Do(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		data := b.Get([]byte(job.ID))
		if data == nil {
			return scheduler.ErrNotFound
		}
		if _, err := decode([]byte(job.ID), data, was); err != nil {
			return err
		}
		if was.Version != job.Version-1 {
			return scheduler.ErrConflict
		}
		var tally []byte
		if u != nil {
			var err error
			if tally, err = addUsage(tx, *u); err != nil { // read and merged before anything is written
				return err
			}
		}
		if err := put(tx, job, was); err != nil || u == nil {
			return err
		}
		return putUsage(tx, *u, tally)
	})
	if err != nil {
		s.loudly(job.ID, err)
		return s.writeErr("update "+job.ID, err)
	}
	s.note(was, metaOf(job))
	return nil
}

// Unfinished lists the queued and running jobs, oldest first, with what
// recovery needs (id, class, state, submission and deadline), from the
// index of unfinished jobs: no record is read. Damaged records are left
// out, so that one cannot stop recovery of the rest.
func (s *Store) Unfinished(ctx context.Context) ([]*scheduler.Job, error) {
	var jobs []*scheduler.Job
	err := s.WalkUnfinished(ctx, func(j *scheduler.Job) error {
		c := *j
		jobs = append(jobs, &c)
		return nil
	})
	return jobs, err
}

// WalkUnfinished calls fn with each queued and running job, oldest first,
// as Unfinished lists them, without holding the list: fn gets the same
// Job each time, and must copy what it keeps. An error from fn stops the
// walk and is returned.
func (s *Store) WalkUnfinished(_ context.Context, fn func(*scheduler.Job) error) error {
	s.mu.Lock()
	damaged := maps.Clone(s.damagedIDs)
	s.mu.Unlock()
	var j scheduler.Job
	return s.view(func(tx *bolt.Tx) error {
		// The walk reads only index pages, but a restart's walk over a
		// million entries maps many record pages beside them: hand them
		// back after.
		defer releasePages(s.db, tx)
		return tx.Bucket(bucketUnfinished).ForEach(func(k, v []byte) error {
			id := keyID(k)
			if damaged[id] {
				return nil
			}
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("embedded: unfinished index, job %s: %w", id, err)
			}
			j = scheduler.Job{ID: id, Tenant: e.Tenant, Priority: e.Priority, Deadline: e.Deadline, State: e.State,
				Submitted: time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))}
			return fn(&j)
		})
	})
}

// expireBatch is how many jobs one expiry transaction deletes at most, so
// that submissions wait for a short commit, not for the whole expiry.
const expireBatch = 500

// DeleteFinished removes terminal jobs finished before the time, walking
// the index of ended jobs in small transactions: it reads only what it
// deletes. A damaged record is kept (it is evidence) and logged.
func (s *Store) DeleteFinished(_ context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var gone []*meta
		more := false
		err := s.update(func(tx *bolt.Tx) error {
			gone, more = gone[:0], false
			jobs, c := tx.Bucket(bucketJobs), tx.Bucket(bucketFinished).Cursor()
			end := finishedKey(before, "")
			for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.First() {
				if len(gone) == expireBatch {
					more = true
					break
				}
				id := k[8:]
				if v := jobs.Get(id); v != nil { // nil: gone already
					var m meta
					if _, err := decode(id, v, &m); err != nil {
						s.damaged(string(id), err)
					} else if m.State.Terminal() && m.Finished.Before(before) {
						if err := jobs.Delete(id); err != nil {
							return err
						}
						gone = append(gone, &m)
					}
				}
				if err := c.Delete(); err != nil { // the entry, whatever its record
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, s.writeErr("expire", err)
		}
		for _, m := range gone {
			s.note(m, nil)
		}
		total += len(gone)
		if !more {
			return total, nil
		}
	}
}

// Counts returns how many stored jobs are in each state, damaged records
// aside: kept as jobs change (this process owns the file), so a metrics
// scrape costs nothing per job.
func (s *Store) Counts(context.Context) (map[scheduler.State]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[scheduler.State]int, len(s.states))
	for st, n := range s.states {
		if n != 0 {
			out[st] = n
		}
	}
	return out, nil
}

// put writes a job that was as was (nil: new), moving its index entries.
func put(tx *bolt.Tx, job *scheduler.Job, was *meta) error {
	data, err := json.Marshal(job)
	if err != nil {
		return err
	}
	var before *indexed
	if was != nil {
		before = was.indexed(job.ID)
	}
	if err := reindex(tx, before, metaOf(job).indexed(job.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketJobs).Put([]byte(job.ID), seal([]byte(job.ID), data))
}
