package embedded

import (
	"container/list"
	"context"
	"sync"

	"github.com/proofmill/proofmill/scheduler"
)

// Queue is an in-memory FIFO per priority, served exactly as
// scheduler.NextPriority says. It holds only IDs; the jobs themselves are in
// the Store, and Scheduler.Recover refills the queue after a restart.
type Queue struct {
	mu     sync.Mutex
	lists  [2]*list.List
	where  map[string]*list.Element
	held   map[string]bool // popped and not yet released
	streak int             // interactive jobs served since the last batch job
	signal chan struct{}   // wakes a waiting Pop
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	return &Queue{
		lists: [2]*list.List{list.New(), list.New()},
		where: map[string]*list.Element{}, held: map[string]bool{},
		signal: make(chan struct{}, 1),
	}
}

type entry struct {
	id string
	p  scheduler.Priority
}

func (q *Queue) Push(_ context.Context, id string, p scheduler.Priority) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.push(id, p)
	return nil
}

func (q *Queue) push(id string, p scheduler.Priority) {
	if _, ok := q.where[id]; ok || q.held[id] {
		return
	}
	q.where[id] = q.lists[p].PushBack(entry{id, p})
	q.wake()
}

func (q *Queue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *Queue) Pop(ctx context.Context) (string, error) {
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if id, ok := q.tryPop(); ok {
			return id, nil
		}
		select {
		case <-q.signal:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (q *Queue) tryPop() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := scheduler.NextPriority([2]int{q.lists[0].Len(), q.lists[1].Len()}, q.streak)
	if !ok {
		return "", false
	}
	if p == scheduler.Interactive {
		q.streak++
	} else {
		q.streak = 0
	}
	e := q.lists[p].Remove(q.lists[p].Front()).(entry)
	delete(q.where, e.id)
	q.held[e.id] = true
	if q.lists[0].Len()+q.lists[1].Len() > 0 { // let the next waiter in
		q.wake()
	}
	return e.id, true
}

func (q *Queue) Release(_ context.Context, id string, p scheduler.Priority, again bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.held, id)
	if again {
		q.push(id, p)
	}
	return nil
}

func (q *Queue) Remove(_ context.Context, id string, _ scheduler.Priority) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.where[id]; ok {
		q.lists[el.Value.(entry).p].Remove(el)
		delete(q.where, id)
	}
	return nil
}

func (q *Queue) Len(_ context.Context, p scheduler.Priority) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lists[p].Len(), nil
}
