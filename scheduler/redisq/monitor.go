package redisq

import (
	"context"
	"net/http"

	"github.com/hibiken/asynqmon"
)

// MonitorUI is asynqmon's web UI and its JSON API (/api/...) over the
// queues in Redis, read-only: a request other than GET is refused (405),
// so nothing in it can delete, run or archive a proofmill task behind
// the scheduler's back. It has no authentication of its own.
type MonitorUI struct {
	h *asynqmon.HTTPHandler
}

// NewMonitorUI connects to Redis at addr (as Dial takes it), checking that
// it answers, and returns the UI; Close it when done.
func NewMonitorUI(ctx context.Context, addr string) (*MonitorUI, error) {
	c, err := Dial(ctx, addr) // fail now, with the address, not on a page load
	if err != nil {
		return nil, err
	}
	c.Close()
	return &MonitorUI{h: asynqmon.New(asynqmon.Options{RedisConnOpt: c.opt, ReadOnly: true})}, nil
}

func (m *MonitorUI) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.h.ServeHTTP(w, r) }

// Close closes its connections to Redis.
func (m *MonitorUI) Close() error { return m.h.Close() }
