package embedded

import (
	"container/list"
	"context"
	"sync"

	"github.com/proofmill/proofmill/scheduler"
)

// Queue is an in-memory FIFO per priority, served by scheduler.NextPriority.
// It holds only IDs; the jobs themselves are in the Store.
type Queue struct {
	mu     sync.Mutex
	lists  [2]*list.List
	where  map[string]*list.Element
	streak int           // interactive jobs served since the last batch job
	signal chan struct{} // wakes a waiting Pop
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	return &Queue{lists: [2]*list.List{list.New(), list.New()}, where: map[string]*list.Element{}, signal: make(chan struct{}, 1)}
}

type entry struct {
	id string
	p  scheduler.Priority
}

func (q *Queue) Push(id string, p scheduler.Priority) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.where[id]; ok {
		return
	}
	q.where[id] = q.lists[p].PushBack(entry{id, p})
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
	if q.lists[0].Len()+q.lists[1].Len() > 0 { // let the next waiter in
		select {
		case q.signal <- struct{}{}:
		default:
		}
	}
	return e.id, true
}

func (q *Queue) Remove(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	el, ok := q.where[id]
	if !ok {
		return false
	}
	q.lists[el.Value.(entry).p].Remove(el)
	delete(q.where, id)
	return true
}

func (q *Queue) Len(p scheduler.Priority) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lists[p].Len()
}
