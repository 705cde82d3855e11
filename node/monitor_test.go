package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
)

// monitorDo makes a request of the monitor and returns its status and
// body.
func monitorDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(timeout(t, time.Minute), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// `proofmill monitor`'s UI over a Redis node's queues: its JSON API lists
// proofmill's queues and a waiting job's task (by job id, with its
// circuit), and refuses a write: deleting the task leaves it in line.
func TestMonitorShowsQueuesReadOnly(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	n := testnode.Start(t, func(c *node.Config) {
		c.Redis = redis.Addr
		node.HoldWorkers(c) // the job stays pending
	})
	cl, err := client.Dial(n.Addr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	j, _, err := cl.Submit(timeout(t, time.Minute), &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 4)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := node.NewMonitor(node.MonitorConfig{Redis: redis.Addr, Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	base := "http://" + m.Addr()

	code, body := monitorDo(t, http.MethodGet, base+"/api/queues")
	var queues struct {
		Queues []struct {
			Queue string `json:"queue"`
			Size  int    `json:"size"`
		} `json:"queues"`
	}
	if err := json.Unmarshal([]byte(body), &queues); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/queues: %d %v\n%s", code, err, body)
	}
	sizes := map[string]int{}
	for _, q := range queues.Queues {
		sizes[q.Queue] = q.Size
	}
	if _, ok := sizes["proofmill.batch"]; !ok || sizes["proofmill.interactive"] != 1 {
		t.Fatalf("queues %v: want proofmill.batch, and the job in proofmill.interactive", sizes)
	}

	pending := base + "/api/queues/proofmill.interactive/pending_tasks"
	if code, body = monitorDo(t, http.MethodGet, pending); code != http.StatusOK || !strings.Contains(body, j.GetId()) || !strings.Contains(body, "invoice-consistency/v1") {
		t.Fatalf("GET pending tasks: %d, want the job %s and its circuit:\n%s", code, j.GetId(), body)
	}
	for _, write := range []struct{ method, path string }{
		{http.MethodDelete, "/api/queues/proofmill.interactive/pending_tasks/" + j.GetId()},
		{http.MethodPost, "/api/queues/proofmill.interactive/pending_tasks/" + j.GetId() + ":archive"},
		{http.MethodDelete, "/api/queues/proofmill.interactive"},
	} {
		if code, body := monitorDo(t, write.method, base+write.path); code != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: %d, want 405 (read-only)\n%s", write.method, write.path, code, body)
		}
	}
	if code, body = monitorDo(t, http.MethodGet, pending); !strings.Contains(body, j.GetId()) {
		t.Fatalf("after the refused writes, the task is gone: %d\n%s", code, body)
	}
	if code, body = monitorDo(t, http.MethodGet, base+"/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("GET /: %d, want the UI's page\n%.300s", code, body)
	}
}

// The monitor listens beyond loopback only when told to: it has no
// authentication.
func TestMonitorListenAddress(t *testing.T) {
	for _, c := range []struct {
		listen string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:7430", false, true},
		{"[::1]:7430", false, true},
		{"localhost:7430", false, true},
		{"", false, true}, // the default: loopback
		{"0.0.0.0:7430", false, false},
		{":7430", false, false},
		{"192.0.2.7:7430", false, false},
		{"0.0.0.0:7430", true, true},
		{"no-port", true, false},
	} {
		_, err := node.NewMonitor(node.MonitorConfig{Redis: "127.0.0.1:6379", Listen: c.listen, AllowRemote: c.remote})
		if (err == nil) != c.ok {
			t.Errorf("--listen %q, allow remote %v: %v; want ok %v", c.listen, c.remote, err, c.ok)
		}
		if err != nil && errcode.Of(err) != errcode.Usage {
			t.Errorf("--listen %q: %v is coded %s, want usage", c.listen, err, errcode.Of(err))
		}
		if err != nil && !c.ok && !c.remote && !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("--listen %q: %v does not say how to allow it", c.listen, err)
		}
	}
	if _, err := node.NewMonitor(node.MonitorConfig{}); err == nil || errcode.Of(err) != errcode.Usage {
		t.Errorf("no --redis: %v, want a usage error", err)
	}
}
