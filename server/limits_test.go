package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/server"
)

func TestLimitsResolved(t *testing.T) {
	l, err := server.Limits{MaxStreams: 7, IdleTimeout: -1}.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	want := server.DefaultLimits
	want.MaxStreams, want.IdleTimeout = 7, -1
	if l != want {
		t.Fatalf("resolved %+v, want %+v", l, want)
	}
	for _, c := range []struct {
		l     server.Limits
		field string
	}{
		{server.Limits{MaxStreams: -1}, "--max-streams"},
		{server.Limits{StreamWindow: 1000}, "--stream-window"},
		{server.Limits{HandshakeTimeout: -time.Second}, "--handshake-timeout"},
		{server.Limits{KeepaliveTimeout: -time.Second}, "--keepalive-timeout"},
		{server.Limits{MinPingInterval: -time.Second}, "--min-ping-interval"},
		{server.Limits{MaxHeaderBytes: -1}, "--max-header-bytes"},
	} {
		_, err := c.l.Resolved()
		if errcode.Of(err) != errcode.Usage || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: %v, want a usage error naming %s", c.l, err, c.field)
		}
	}
}
