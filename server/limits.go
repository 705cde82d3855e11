package server

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/proofmill/proofmill/errcode"
)

// Limits bound what one client can hold of a server: connections, calls
// per connection, the bytes a call may buffer, and how long a connection
// may stay half-open, idle or silent. A zero field takes its value from
// DefaultLimits.
type Limits struct {
	// MaxConnections is how many connections may be open at once; one
	// past it is closed as soon as it is accepted. Negative: no cap.
	MaxConnections int
	// MaxStreams is how many calls one connection may have open at once
	// (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): gRPC clients queue the
	// rest, and a stream past it is refused (RST_STREAM REFUSED_STREAM).
	MaxStreams int
	// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake:
	// a connection that sends nothing, or only the preface, is closed.
	HandshakeTimeout time.Duration
	// IdleTimeout: a connection without calls this long is sent GOAWAY
	// (clients reconnect when they next call). Negative: never.
	IdleTimeout time.Duration
	// KeepaliveTime: a connection silent this long is pinged, and closed if
	// nothing arrives within KeepaliveTimeout. Negative: no pings.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// MinPingInterval: a client that pings more often than this is sent
	// GOAWAY (too_many_pings). Pings are allowed without calls too.
	MinPingInterval time.Duration
	// StreamWindow is how many bytes a client may send on one call before
	// the server reads them. It is fixed (no BDP growth), so calls a
	// handler does not read hold at most this each.
	StreamWindow int
	// MaxHeaderBytes bounds one call's metadata (HTTP/2 header list).
	MaxHeaderBytes int
}

// DefaultLimits are the limits of a zero Limits field.
var DefaultLimits = Limits{
	MaxConnections:   1000,
	MaxStreams:       100,
	HandshakeTimeout: 10 * time.Second,
	IdleTimeout:      5 * time.Minute,
	KeepaliveTime:    time.Minute,
	KeepaliveTimeout: 20 * time.Second,
	MinPingInterval:  15 * time.Second,
	StreamWindow:     64 << 10,
	MaxHeaderBytes:   16 << 10,
}

// connWindow is the connection's receive window: it bounds bytes in
// flight, not bytes held (gRPC acknowledges them on arrival), so it may be
// larger than a stream's.
const connWindow = 1 << 20

// Resolved fills zero fields from DefaultLimits and checks the rest; an
// error names the field by its serve flag.
func (l Limits) Resolved() (Limits, error) {
	d := DefaultLimits
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fillD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&l.MaxConnections, d.MaxConnections)
	fill(&l.MaxStreams, d.MaxStreams)
	fill(&l.StreamWindow, d.StreamWindow)
	fill(&l.MaxHeaderBytes, d.MaxHeaderBytes)
	fillD(&l.HandshakeTimeout, d.HandshakeTimeout)
	fillD(&l.IdleTimeout, d.IdleTimeout)
	fillD(&l.KeepaliveTime, d.KeepaliveTime)
	fillD(&l.KeepaliveTimeout, d.KeepaliveTimeout)
	fillD(&l.MinPingInterval, d.MinPingInterval)
	bad := func(field string, v any, rule string) (Limits, error) {
		return l, errcode.Errorf(errcode.Usage, "limits: --%s %v: %s", field, v, rule)
	}
	switch {
	case l.MaxStreams < 0 || l.MaxStreams > math.MaxUint32:
		return bad("max-streams", l.MaxStreams, "must not be negative (0: the default)")
	case l.StreamWindow < 64<<10 || l.StreamWindow > math.MaxInt32:
		return bad("stream-window", l.StreamWindow, "must be at least 65536 bytes, HTTP/2's default")
	case l.MaxHeaderBytes < 0 || l.MaxHeaderBytes > math.MaxUint32:
		return bad("max-header-bytes", l.MaxHeaderBytes, "must not be negative (0: the default)")
	case l.HandshakeTimeout < 0:
		return bad("handshake-timeout", l.HandshakeTimeout, "must not be negative (0: the default)")
	case l.KeepaliveTimeout < 0:
		return bad("keepalive-timeout", l.KeepaliveTimeout, "must not be negative (0: the default)")
	case l.MinPingInterval < 0:
		return bad("min-ping-interval", l.MinPingInterval, "must not be negative (0: the default)")
	}
	return l, nil
}

// ServerOptions are the gRPC server options that enforce resolved limits.
// Write buffers are shared (a connection holds one only while writing), so
// idle connections cost little.
func (l Limits) ServerOptions() []grpc.ServerOption {
	never := func(d time.Duration) time.Duration {
		if d < 0 {
			return time.Duration(math.MaxInt64) // gRPC's "infinity"
		}
		return d
	}
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(uint32(l.MaxStreams)),
		grpc.ConnectionTimeout(l.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: never(l.IdleTimeout), Time: never(l.KeepaliveTime), Timeout: l.KeepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.MinPingInterval, PermitWithoutStream: true}),
		grpc.StaticStreamWindowSize(int32(l.StreamWindow)),
		grpc.StaticConnWindowSize(max(connWindow, int32(l.StreamWindow))),
		grpc.MaxHeaderListSize(uint32(l.MaxHeaderBytes)),
		grpc.SharedWriteBuffer(true),
	}
}

// Listener caps lis at MaxConnections open connections. One past the cap
// is closed (reset) at once rather than left waiting in the kernel's
// backlog, as golang.org/x/net/netutil.LimitListener would: the client
// fails fast and retries, and the refusals are logged.
func (l Limits) Listener(lis net.Listener, log *slog.Logger) net.Listener {
	if l.MaxConnections < 0 {
		return lis
	}
	return &capListener{Listener: lis, max: int64(l.MaxConnections), log: log}
}

type capListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	log     *slog.Logger
	mu      sync.Mutex
	refused int       // since the last log line
	logged  time.Time // when the last one was written
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &cappedConn{Conn: c, release: func() { l.open.Add(-1) }}, nil
		}
		l.open.Add(-1)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset: no TIME_WAIT left here
		}
		c.Close()
		l.refusedOne()
	}
}

// refusedOne logs refusals at most once a minute, with their count.
func (l *capListener) refusedOne() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	if time.Since(l.logged) < time.Minute {
		return
	}
	l.log.Warn(fmt.Sprintf("connection cap reached: refused %d connections (--max-connections %d)", l.refused, l.max))
	l.refused, l.logged = 0, time.Now()
}

// cappedConn gives its slot back when it is first closed. Being a
// wrapper, it costs gRPC its pooled reads (each connection keeps a 32 KiB
// read buffer) and TCP_USER_TIMEOUT; the keepalive pings still close a
// dead peer's connection.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
