// Package groupcommit shares one commit among the writes that arrive
// together: one goroutine takes every write waiting, commits them at once
// (one transaction, one fsync), and answers each. It never waits to fill a
// group: while one commit is on its way to disk, the writes that arrive
// queue for the next. A write returns only once its group committed, so
// durability is as with one commit each.
package groupcommit

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed: a write after Stop.
var ErrClosed = errors.New("closed")

// Group commits writes of type T in groups of at most Max.
type Group[T any] struct {
	commit func([]T) []error
	max    int

	mu      sync.Mutex // guards closed, and sending on writes
	closed  bool
	writes  chan *call[T]
	stopped chan struct{}
	hold    chan struct{}

	commits atomic.Int64
}

type call[T any] struct {
	w    T
	done chan error
}

// Start starts a group; commit writes a group and returns each write's
// error, in order (len(ws) of them).
func Start[T any](max int, commit func(ws []T) []error) *Group[T] {
	return start(max, commit, nil)
}

// StartHeld is Start, but the group takes no write until release is
// called: for tests that decide what shares a commit.
func StartHeld[T any](max int, commit func(ws []T) []error) (g *Group[T], release func()) {
	hold := make(chan struct{})
	return start(max, commit, hold), func() { close(hold) }
}

func start[T any](max int, commit func([]T) []error, hold chan struct{}) *Group[T] {
	g := &Group[T]{commit: commit, max: max, writes: make(chan *call[T], max), stopped: make(chan struct{}), hold: hold}
	go g.run()
	return g
}

// Do commits w with whatever else is waiting and returns its error once
// the group is committed.
func (g *Group[T]) Do(w T) error {
	c := &call[T]{w: w, done: make(chan error, 1)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	// Sending under mu keeps Stop from closing the channel meanwhile; the
	// group drains it without mu, so a full channel only waits.
	g.writes <- c
	g.mu.Unlock()
	return <-c.done
}

// Stop takes no more writes, commits those waiting, and waits for the
// goroutine. Stopping again does nothing.
func (g *Group[T]) Stop() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.writes)
	}
	g.mu.Unlock()
	<-g.stopped
}

// Waiting is how many writes wait for a commit.
func (g *Group[T]) Waiting() int { return len(g.writes) }

// AwaitWaiting waits until n writes wait, for at most about 10 s, and
// reports whether they do: for tests with a held group.
func (g *Group[T]) AwaitWaiting(n int) bool {
	for range 2000 {
		if g.Waiting() >= n {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// Commits is how many groups it has committed, failed ones included.
func (g *Group[T]) Commits() int64 { return g.commits.Load() }

func (g *Group[T]) run() {
	defer close(g.stopped)
	if g.hold != nil {
		<-g.hold
	}
	calls := make([]*call[T], 0, g.max)
	ws := make([]T, 0, g.max)
	for first := range g.writes {
		calls = append(calls[:0], first)
	fill:
		for len(calls) < g.max {
			select {
			case c, ok := <-g.writes:
				if !ok {
					break fill
				}
				calls = append(calls, c)
			default:
				break fill
			}
		}
		ws = ws[:0]
		for _, c := range calls {
			ws = append(ws, c.w)
		}
		errs := g.commit(ws)
		g.commits.Add(1)
		for i, c := range calls {
			c.done <- errs[i]
		}
	}
}
