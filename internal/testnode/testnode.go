// Package testnode starts proofmill servers in the test's own process: on
// a free loopback port, with a journal in a temporary folder, the shared
// test key store and one worker, stopped when the test ends.
package testnode

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
)

// Config is the test server's config, before any edit.
func Config(t testing.TB) node.Config {
	return node.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), KeysDir: testkeys.Dir(), Workers: 1, Retention: time.Hour,
		DevSetup: true, Preload: "none", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Servers and workers of a test sign, encrypt and open alike.
		ReceiptKey: proctest.ServiceKey(t), MasterKey: proctest.MasterKey(t), InputKeys: []string{proctest.InputKey(t)},
	}
}

// Start starts a server from Config, as edit changes it; the test's end
// shuts it down (a test may do so first).
func Start(t testing.TB, edit func(*node.Config)) *node.Node {
	t.Helper()
	cfg := Config(t)
	if edit != nil {
		edit(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cfg.Role == node.Serve {
		waitAdmitting(t, n)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n.Shutdown(ctx) // ErrState if the test stopped it already
	})
	return n
}

// waitAdmitting waits, bounded, until a server admits submissions (its
// start's recovery is done), so tests submit without racing it; a test of
// the recovery itself starts its node without this helper.
func waitAdmitting(t testing.TB, n *node.Node) {
	t.Helper()
	select {
	case <-n.Admitting():
	case <-time.After(time.Minute):
		t.Fatal("testnode: the server did not finish recovering in a minute")
	}
}
