package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/proofmill/proofmill/scheduler"
)

var bucketJobs = []byte("jobs")

// Store keeps jobs in a bbolt file. Every write is committed (fsync) before
// it returns, so an accepted job is on disk before the client hears of it.
type Store struct {
	db *bolt.DB

	// Counts kept in memory: this process owns the file.
	mu         sync.Mutex
	unfinished map[string]int             // per tenant
	queued     map[scheduler.Priority]int // jobs waiting, per priority
}

// meta is what the counts need of a job.
type meta struct {
	Tenant   string             `json:"tenant"`
	State    scheduler.State    `json:"state"`
	Priority scheduler.Priority `json:"priority"`
	Version  uint64             `json:"version"`
}

func metaOf(j *scheduler.Job) *meta {
	return &meta{Tenant: j.Tenant, State: j.State, Priority: j.Priority, Version: j.Version}
}

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketJobs)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	s := &Store{db: db, unfinished: map[string]int{}, queued: map[scheduler.Priority]int{}}
	if err := s.eachMeta(func(m *meta) error {
		s.note(nil, m)
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	return s, nil
}

// note moves the counts from a job as it was (nil: not stored) to as it is.
func (s *Store) note(was, is *meta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if was != nil {
		if !was.State.Terminal() {
			s.unfinished[was.Tenant]--
		}
		if was.State == scheduler.Queued {
			s.queued[was.Priority]--
		}
	}
	if !is.State.Terminal() {
		s.unfinished[is.Tenant]++
	}
	if is.State == scheduler.Queued {
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

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) Create(_ context.Context, job *scheduler.Job) (*scheduler.Job, bool, error) {
	var existing *scheduler.Job
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		if data := b.Get([]byte(job.ID)); data != nil {
			existing = new(scheduler.Job)
			return json.Unmarshal(data, existing)
		}
		return put(b, job)
	})
	if err != nil {
		return nil, false, fmt.Errorf("embedded: create %s: %w", job.ID, err)
	}
	if existing != nil {
		return existing, false, nil
	}
	s.note(nil, metaOf(job))
	return job, true, nil
}

func (s *Store) Get(_ context.Context, id string) (*scheduler.Job, error) {
	var j *scheduler.Job
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketJobs).Get([]byte(id))
		if data == nil {
			return scheduler.ErrNotFound
		}
		j = new(scheduler.Job)
		return json.Unmarshal(data, j)
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: get %s: %w", id, err)
	}
	return j, nil
}

func (s *Store) Update(_ context.Context, job *scheduler.Job) error {
	was := new(meta)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		data := b.Get([]byte(job.ID))
		if data == nil {
			return scheduler.ErrNotFound
		}
		if err := json.Unmarshal(data, was); err != nil {
			return err
		}
		if was.Version != job.Version-1 {
			return scheduler.ErrConflict
		}
		return put(b, job)
	})
	if err != nil {
		return fmt.Errorf("embedded: update %s: %w", job.ID, err)
	}
	s.note(was, metaOf(job))
	return nil
}

func (s *Store) Unfinished(_ context.Context) ([]*scheduler.Job, error) {
	var jobs []*scheduler.Job
	err := s.each(func(j *scheduler.Job) error {
		if !j.State.Terminal() {
			j.Witness, j.LegacyInput, j.Result = nil, nil, nil
			jobs = append(jobs, j)
		}
		return nil
	})
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].Submitted.Before(jobs[b].Submitted) })
	return jobs, err
}

func (s *Store) DeleteFinished(_ context.Context, before time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketJobs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var j struct {
				State    scheduler.State `json:"state"`
				Finished time.Time       `json:"finished"`
			}
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if j.State.Terminal() && j.Finished.Before(before) {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("embedded: expire: %w", err)
	}
	return n, nil
}

// Counts returns how many stored jobs are in each state. It decodes only
// each job's state, not its input or proof.
func (s *Store) Counts(_ context.Context) (map[scheduler.State]int, error) {
	counts := map[scheduler.State]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var j struct {
				State scheduler.State `json:"state"`
			}
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			counts[j.State]++
			return nil
		})
	})
	return counts, err
}

// eachMeta decodes only what the counts need of each job.
func (s *Store) eachMeta(fn func(*meta) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var m meta
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			return fn(&m)
		})
	})
}

func (s *Store) each(fn func(*scheduler.Job) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var j scheduler.Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			return fn(&j)
		})
	})
}

func put(b *bolt.Bucket, job *scheduler.Job) error {
	data, err := json.Marshal(job)
	if err != nil {
		return err
	}
	return b.Put([]byte(job.ID), data)
}
