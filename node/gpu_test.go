package node_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// serve --gpus with a device worker that fails the way GPU provers do: it
// panics on another goroutine, aborts, hangs, or returns a corrupt proof.
// Every job still succeeds, proved on the CPU, with a proof that verifies;
// the server survives; the device turns unhealthy after three failures;
// and each move to the CPU is counted.
func TestGPUWorkerFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mode, reason string }{
		{"panic", "crashed"}, {"abort", "crashed"}, {"hang", "hung"}, {"corrupt", "rejected"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			addr, metrics := proctest.FreeAddr(t), proctest.FreeAddr(t)
			p := proctest.Start(t, "server", "serve", "--gpus", "fault:"+tc.mode, "--device-timeout", "2s",
				"--data", t.TempDir(), "--keys", testkeys.Dir(), "--listen", addr, "--metrics", metrics,
				"--preload", "invoice-consistency/v1", "--dev-setup=false")
			c := proctest.Dial(t, p, addr)
			ids := submitInvoices(t, c, 4)
			ctx := timeout(t, 3*time.Minute)
			for _, id := range ids {
				j, err := c.Wait(ctx, id)
				if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED || j.GetBackend() != "cpu" || j.GetAttempts() != 1 {
					t.Fatalf("job %s: %v %v", id, j, err)
				}
				if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
					t.Fatalf("job %s: proof does not verify: %v %v", id, v, err)
				}
			}
			select {
			case <-p.Exited:
				t.Fatalf("the server died: %v", p.Err)
			default:
			}
			ds, err := c.Devices(ctx)
			if err != nil || len(ds) != 2 || ds[1].GetId() != "fault:"+tc.mode || ds[1].GetHealthy() || ds[1].GetFailures() != 3 {
				t.Fatalf("devices after 4 failing jobs: %v %v", ds, err)
			}
			if tc.reason != "rejected" && ds[1].GetRestarts() < 1 {
				t.Fatalf("the device worker was not restarted: %v", ds[1])
			}
			want := fmt.Sprintf(`proofmill_device_fallbacks_total{device="fault:%s",reason="%s"} 3`, tc.mode, tc.reason)
			got := scrape(t, metrics)
			if !strings.Contains(got, want) || !strings.Contains(got, `reason="unhealthy"} 1`) {
				t.Fatalf("metrics lack %s and one unhealthy fallback:\n%s", want, grep(got, "fallbacks"))
			}
			if unhealthy := fmt.Sprintf(`proofmill_device_healthy{device="fault:%s"} 0`, tc.mode); !strings.Contains(got, unhealthy) {
				t.Fatalf("metrics lack %s:\n%s", unhealthy, grep(got, "proofmill_device_healthy"))
			}
		})
	}
}

// A healthy device worker proves; its proofs verify, and each job names
// the device that proved it.
func TestGPUWorkerProves(t *testing.T) {
	t.Parallel()
	addr, metrics := proctest.FreeAddr(t), proctest.FreeAddr(t)
	p := proctest.Start(t, "server", "serve", "--gpus", "fault:ok", "--data", t.TempDir(), "--keys", testkeys.Dir(),
		"--listen", addr, "--metrics", metrics, "--preload", "invoice-consistency/v1", "--dev-setup=false")
	c := proctest.Dial(t, p, addr)
	ids := submitInvoices(t, c, 3)
	ctx := timeout(t, 2*time.Minute)
	for _, id := range ids {
		j, err := c.Wait(ctx, id)
		if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED || j.GetBackend() != "fault:ok" {
			t.Fatalf("job %s: %v %v", id, j, err)
		}
		if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
			t.Fatalf("job %s: proof does not verify: %v %v", id, v, err)
		}
	}
	ds, _ := c.Devices(ctx)
	if len(ds) != 2 || !ds[1].GetHealthy() || ds[1].GetFailures() != 0 || ds[1].GetName() != "fault injection: ok" {
		t.Fatalf("devices: %v", ds)
	}
	if got := scrape(t, metrics); !strings.Contains(got, `proofmill_device_healthy{device="fault:ok"} 1`) {
		t.Fatalf("metrics lack the healthy device:\n%s", grep(got, "proofmill_device_healthy"))
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
