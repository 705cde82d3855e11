package embedded

import (
	"container/list"
	"context"
	"sync"

	"github.com/proofmill/proofmill/scheduler"
)

// QueueConfig tunes a Queue. The zero value is usable.
type QueueConfig struct {
	// Weight is a tenant's share of the starts while tenants compete;
	// nil, or 0 for a tenant, means 1.
	Weight func(tenant string) int
	// Drop, when set, takes IDs out of line instead of serving them: the
	// Store's Damaged, so that a job whose record is damaged is not handed
	// out (and put back) forever.
	Drop func(id string) bool
}

// Queue is an in-memory FIFO per priority and tenant. Priorities are
// served exactly as scheduler.NextPriority says; within one, tenants as
// scheduler.NextTenant says. It holds only IDs; the jobs themselves are in
// the Store, and Scheduler.Recover refills the queue after a restart.
type Queue struct {
	mu     sync.Mutex
	cfg    QueueConfig
	lines  [2]map[string]*list.List // per priority, per tenant with jobs waiting
	counts [2]int
	where  map[string]*list.Element   // ID → its element, an entry
	held   map[string]scheduler.Class // popped and not yet released, with the class it was in line for
	pass   map[string]float64         // per tenant: starts divided by weight
	clock  float64                    // the pass of the tenant served last
	streak int                        // interactive jobs served since the last batch job
	signal chan struct{}              // wakes a waiting Pop
}

// NewQueue returns an empty queue.
func NewQueue(cfg QueueConfig) *Queue {
	return &Queue{
		cfg:   cfg,
		lines: [2]map[string]*list.List{{}, {}},
		where: map[string]*list.Element{}, held: map[string]scheduler.Class{},
		pass: map[string]float64{}, signal: make(chan struct{}, 1),
	}
}

// entry is an ID in line, with the class it is in line for.
type entry struct {
	id string
	c  scheduler.Class
}

func (q *Queue) weight(tenant string) float64 {
	if q.cfg.Weight != nil {
		if w := q.cfg.Weight(tenant); w > 0 {
			return float64(w)
		}
	}
	return 1
}

func (q *Queue) Push(_ context.Context, id string, c scheduler.Class) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.push(id, c)
	return nil
}

func (q *Queue) waiting(tenant string) bool {
	return q.lines[0][tenant] != nil || q.lines[1][tenant] != nil
}

func (q *Queue) push(id string, c scheduler.Class) {
	if _, ok := q.where[id]; ok {
		return
	}
	if _, ok := q.held[id]; ok {
		return
	}
	if !q.waiting(c.Tenant) {
		// A tenant coming back from idle starts level with the others: it
		// cannot bank the starts it did not use.
		q.pass[c.Tenant] = max(q.pass[c.Tenant], q.clock)
	}
	l := q.lines[c.Priority][c.Tenant]
	if l == nil {
		l = list.New()
		q.lines[c.Priority][c.Tenant] = l
	}
	q.where[id] = l.PushBack(entry{id, c})
	q.counts[c.Priority]++
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
	q.dropFronts()
	p, ok := scheduler.NextPriority(q.counts, q.streak)
	if !ok {
		return "", false
	}
	if p == scheduler.Interactive {
		q.streak++
	} else {
		q.streak = 0
	}
	tenants := make([]string, 0, len(q.lines[p]))
	for t := range q.lines[p] {
		tenants = append(tenants, t)
	}
	t, _ := scheduler.NextTenant(tenants, q.pass)
	front := q.lines[p][t].Front()
	c := front.Value.(entry).c
	id := q.take(front)
	q.clock = q.pass[t]
	q.pass[t] += 1 / q.weight(t)
	q.held[id] = c
	if q.counts[0]+q.counts[1] > 0 { // let the next waiter in
		q.wake()
	}
	return id, true
}

// dropFronts takes out of line every ID at the head of a line that Drop
// names, so that what tryPop picks is servable.
func (q *Queue) dropFronts() {
	if q.cfg.Drop == nil {
		return
	}
	for _, lines := range q.lines {
		for _, l := range lines {
			for l.Len() > 0 && q.cfg.Drop(l.Front().Value.(entry).id) {
				q.take(l.Front()) // may delete l from lines: ranging over a map allows it
			}
		}
	}
}

// take removes an ID's element from its line.
func (q *Queue) take(el *list.Element) string {
	e := el.Value.(entry)
	id, c := e.id, e.c
	l := q.lines[c.Priority][c.Tenant]
	l.Remove(el)
	if l.Len() == 0 {
		delete(q.lines[c.Priority], c.Tenant)
	}
	q.counts[c.Priority]--
	delete(q.where, id)
	return id
}

// Release ends a hold; an ID going back in line keeps the class it was
// popped from, whatever c says (a caller that could not read the job
// knows none).
func (q *Queue) Release(_ context.Context, id string, c scheduler.Class, again bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if held, ok := q.held[id]; ok {
		c = held
	}
	delete(q.held, id)
	if again {
		q.push(id, c)
	}
	return nil
}

func (q *Queue) Remove(_ context.Context, id string, _ scheduler.Class) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.where[id]; ok {
		q.take(el)
	}
	return nil
}

func (q *Queue) Len(_ context.Context, p scheduler.Priority) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[p], nil
}
