package redisq

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// cancelChannel is the pub/sub channel on which a cancelled running job's
// id reaches the consumers: the one holding it stops the attempt. Pub/sub
// keeps nothing: a consumer cut off from Redis then misses the cancel, and
// its proof runs on, to be dropped (the job is cancelled in the store).
const cancelChannel = "proofmill:cancel"

// canceller is one attempt's OnCancel: a pointer, so that stop removes
// its own and not a later attempt's.
type canceller struct{ fn func() }

// CancelHeld publishes id's cancel to every consumer.
func (q *Queue) CancelHeld(ctx context.Context, id string) error {
	if err := q.rc.Publish(ctx, cancelChannel, id).Err(); err != nil {
		return fmt.Errorf("redisq: cancel %s: %w", id, unavailable(err))
	}
	return nil
}

// OnCancel calls fn when id's cancel is published, until stop.
func (q *Queue) OnCancel(id string, fn func()) (stop func()) {
	c := &canceller{fn}
	q.mu.Lock()
	q.cancels[id] = c
	q.mu.Unlock()
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.cancels[id] == c {
			delete(q.cancels, id)
		}
	}
}

// subscribe listens for cancels until Shutdown closes the subscription;
// it returns once Redis has confirmed it, so no cancel published after
// Start is missed.
func (q *Queue) subscribe(ctx context.Context) error {
	sub := q.rc.Subscribe(ctx, cancelChannel)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("redisq: subscribe to cancels: %w", unavailable(err))
	}
	q.sub, q.listening = sub, make(chan struct{})
	go func() {
		defer close(q.listening)
		for msg := range sub.Channel() { // closed by sub.Close
			q.cancelled(msg)
		}
	}()
	return nil
}

func (q *Queue) cancelled(msg *redis.Message) {
	q.mu.Lock()
	c := q.cancels[msg.Payload]
	q.mu.Unlock()
	if c != nil {
		q.log.Info("redisq: cancel received for a job running here", "job", msg.Payload)
		c.fn()
	}
}
