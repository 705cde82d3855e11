package node_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proofmill/proofmill/node"
)

// h2 is a hand-driven HTTP/2 client: it does what a hostile one would.
type h2 struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
}

// dialH2 connects and sends the preface and first SETTINGS frame; with
// handshake it also waits for the server's SETTINGS and acknowledges them.
func dialH2(t *testing.T, addr string, handshake bool) *h2 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &h2{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if handshake {
		f := c.until(func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && !s.IsAck() })
		if f == nil {
			t.Fatal("the server sent no SETTINGS")
		}
		if err := c.fr.WriteSettingsAck(); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// until reads frames for up to 10 s until match says so, and returns that
// frame; nil if the connection closed first.
func (c *h2) until(match func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.t.Fatal("no such frame in 10 s, and the connection stays open")
		}
		if err != nil {
			return nil // closed or reset
		}
		if match(f) {
			return f
		}
	}
}

// closedWithin10s reports whether the server closes conn within 10 s
// (reading, and discarding, whatever it sends first).
func closedWithin10s(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// openWatch opens a WatchJob stream and sends nothing more on it.
func (c *h2) openWatch(id uint32, authority string) {
	c.t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, h := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/proofmill.v1.Prover/WatchJob"},
		{":authority", authority}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

func startLimited(t *testing.T, l node.Limits) string {
	t.Helper()
	n, _ := startNode(t, func(cfg *node.Config) { cfg.Workers, cfg.Limits = -1, l })
	return n.Addr()
}

// A client that ignores the server's stream cap has the stream past it
// refused; the server said the cap in its SETTINGS.
func TestStreamCapRefusesTheStreamPastIt(t *testing.T) {
	const streams = 5
	addr := startLimited(t, node.Limits{MaxStreams: streams})
	c := dialH2(t, addr, false)
	settings := c.until(func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && !s.IsAck() })
	if settings == nil {
		t.Fatal("the server sent no SETTINGS")
	}
	if v, ok := settings.(*http2.SettingsFrame).Value(http2.SettingMaxConcurrentStreams); !ok || v != streams {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d (sent: %v), want %d", v, ok, streams)
	}
	c.fr.WriteSettingsAck()
	for i := range streams + 1 {
		c.openWatch(uint32(2*i+1), addr)
	}
	past := uint32(2*streams + 1)
	f := c.until(func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok })
	if f == nil {
		t.Fatal("the connection closed instead")
	}
	if r := f.(*http2.RSTStreamFrame); r.StreamID != past || r.ErrCode != http2.ErrCodeRefusedStream {
		t.Fatalf("RST_STREAM on stream %d (%v), want stream %d REFUSED_STREAM", r.StreamID, r.ErrCode, past)
	}
}

// Connections past the cap are closed as they arrive; a freed slot takes
// a new one.
func TestConnectionCapHolds(t *testing.T) {
	const limit = 3
	addr := startLimited(t, node.Limits{MaxConnections: limit})
	var held []*h2
	for range limit {
		held = append(held, dialH2(t, addr, true))
	}
	// The server resets a connection past the cap as it accepts it: the
	// reset may reach the dial itself, or the first read.
	extra, err := net.DialTimeout("tcp", addr, 10*time.Second)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
	case err != nil:
		t.Fatal(err)
	default:
		defer extra.Close()
		extra.Write([]byte(http2.ClientPreface))
		if !closedWithin10s(extra) {
			t.Fatalf("connection %d of a cap of %d stays open", limit+1, limit)
		}
	}
	held[0].conn.Close()
	// The server frees the slot once it reads the close: try for a while.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatal(err)
		}
		if err == nil {
			conn.Write([]byte(http2.ClientPreface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00")) // preface and an empty SETTINGS
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			fr := http2.NewFramer(nil, conn)
			_, err = fr.ReadFrame()
			conn.Close()
			if err == nil {
				return // the server answered: admitted
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection admitted after one of the capped ones closed")
		}
	}
}

// A connection that never finishes its handshake (it sends nothing, or
// only the HTTP/2 preface) is closed after the handshake timeout.
func TestHalfOpenConnectionsAreClosed(t *testing.T) {
	addr := startLimited(t, node.Limits{HandshakeTimeout: 200 * time.Millisecond})
	for _, first := range []string{"", http2.ClientPreface} {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte(first))
		if !closedWithin10s(conn) {
			t.Fatalf("a connection that sent %q stays open past the handshake timeout", first)
		}
	}
}

// A client pinging more often than the policy allows is sent GOAWAY
// (too_many_pings); one pinging at the allowed pace, with no call open, is
// not.
func TestKeepalivePolicy(t *testing.T) {
	const interval = 500 * time.Millisecond
	addr := startLimited(t, node.Limits{MinPingInterval: interval})
	polite := dialH2(t, addr, true)
	for i := range 5 { // gRPC's default policy (5 minutes, none without calls) refuses these
		if err := polite.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		f := polite.until(func(f http2.Frame) bool {
			switch f := f.(type) {
			case *http2.PingFrame:
				return f.IsAck()
			case *http2.GoAwayFrame:
				return true
			}
			return false
		})
		if g, ok := f.(*http2.GoAwayFrame); ok || f == nil {
			t.Fatalf("ping %d, %v apart: the server answered %v", i+1, 3*interval/2, g)
		}
		time.Sleep(3 * interval / 2)
	}

	eager := dialH2(t, addr, true)
	for i := range 10 {
		if err := eager.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			break // the server may have closed it already
		}
	}
	f := eager.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if g, ok := f.(*http2.GoAwayFrame); !ok || g.ErrCode != http2.ErrCodeEnhanceYourCalm || string(g.DebugData()) != "too_many_pings" {
		t.Fatalf("ten pings at once: %v, want GOAWAY ENHANCE_YOUR_CALM too_many_pings", f)
	}
}

// A connection without calls is sent GOAWAY after the idle timeout; one
// that holds a call but answers no ping is closed after the keepalive
// time and timeout.
func TestIdleAndSilentConnectionsAreClosed(t *testing.T) {
	addr := startLimited(t, node.Limits{IdleTimeout: 300 * time.Millisecond,
		KeepaliveTime: 300 * time.Millisecond, KeepaliveTimeout: 300 * time.Millisecond})
	idle := dialH2(t, addr, true)
	if f := idle.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }); f == nil {
		t.Fatal("the idle connection closed without a GOAWAY")
	}

	silent := dialH2(t, addr, true)
	silent.openWatch(1, addr) // a call: not idle
	if !closedWithin10s(silent.conn) {
		t.Fatal("a connection that answers no ping stays open")
	}
}
