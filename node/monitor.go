package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// DefaultMonitorListen is where `proofmill monitor` serves by default.
const DefaultMonitorListen = "127.0.0.1:7430"

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	Redis  string // required: the Redis the service shares jobs through, as Config.Redis
	Listen string // host:port; "": DefaultMonitorListen
	// AllowRemote allows a Listen address beyond loopback. Off, such an
	// address is refused: the UI has no authentication, and shows every
	// job's circuit, tenant and errors to whoever reaches it.
	AllowRemote bool
	Logger      *slog.Logger // nil: slog.Default()
}

// Monitor serves asynq's web UI (asynqmon), read-only, over the queues in
// Redis: an operator's view of proofmill's tasks with nothing else
// installed.
type Monitor struct {
	cfg MonitorConfig

	mu    sync.Mutex
	state state
	ui    *redisq.MonitorUI
	srv   *http.Server
	addr  string
	done  chan struct{} // closed when Serve returns
}

// NewMonitor checks cfg and returns a Monitor; Start serves it.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultMonitorListen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Redis == "" {
		return nil, errcode.Errorf(errcode.Usage, "--redis is required")
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, errcode.Errorf(errcode.Usage, "--listen %q: %v", cfg.Listen, err)
	}
	if !cfg.AllowRemote && !loopback(host) {
		return nil, errcode.Errorf(errcode.Usage, "--listen %s is not a loopback address: the UI has no authentication and shows every job's circuit, tenant and errors; listen on 127.0.0.1 (reach it through an SSH tunnel or an authenticating proxy), or pass --allow-remote", cfg.Listen)
	}
	return &Monitor{cfg: cfg}, nil
}

// loopback says whether host names only this machine ("" is every
// interface).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start connects to Redis and starts serving.
func (m *Monitor) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != stateNew {
		return fmt.Errorf("%w: start a monitor that already started", ErrState)
	}
	m.state = stateStopped // a failed start is not retried
	ui, err := redisq.NewMonitorUI(ctx, m.cfg.Redis)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		ui.Close()
		return errcode.Errorf(errcode.Usage, "listen %s: %w", m.cfg.Listen, err)
	}
	m.ui, m.addr, m.done = ui, ln.Addr().String(), make(chan struct{})
	m.srv = &http.Server{Handler: ui, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.cfg.Logger.Error("monitor: serve", "err", err)
		}
	}()
	m.state = stateRunning
	m.cfg.Logger.Info("monitor ready (read-only)", "url", "http://"+m.addr+"/")
	return nil
}

// Addr is the address it listens on, once started.
func (m *Monitor) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Shutdown stops serving, waiting for requests in flight until ctx ends,
// and closes the connections to Redis.
func (m *Monitor) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != stateRunning {
		return fmt.Errorf("%w: shut down a monitor that is not running", ErrState)
	}
	m.state = stateStopped
	err := m.srv.Shutdown(ctx)
	<-m.done
	return errors.Join(err, m.ui.Close())
}
