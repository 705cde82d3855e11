package node_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// serve --gpus with --procs-per-gpu 2 runs two supervised device processes
// for the one device, both proving: healthy ones' proofs are released
// under the process's name; a corrupting device's proofs are caught by
// verification in both processes, and every job is proved on the CPU.
func TestProcsPerGPU(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode     string
		backends []string // the jobs' backends, as a set
		healthy  bool
	}{
		{"ok", []string{"fault:ok/1", "fault:ok/2"}, true},
		{"corrupt", []string{"cpu"}, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			addr := proctest.FreeAddr(t)
			p := proctest.Start(t, "server", "serve", "--gpus", "fault:"+tc.mode, "--procs-per-gpu", "2",
				"--data", t.TempDir(), "--keys", testkeys.Dir(), "--listen", addr, "--metrics", "",
				"--preload", "invoice-consistency/v1", "--dev-setup=false")
			c := proctest.Dial(t, p, addr)
			ctx := timeout(t, 3*time.Minute)
			// Six jobs: the corrupting device's two processes fail three
			// verifications in all, then each is unhealthy or rested.
			if got := provedOn(ctx, t, c, submitInvoices(t, c, 6)); !slices.Equal(got, tc.backends) {
				t.Fatalf("jobs proved on %v, want %v", got, tc.backends)
			}
			ds, err := c.Devices(ctx)
			if err != nil || len(ds) != 3 || ds[0].GetId() != "cpu" {
				t.Fatalf("devices: %v %v; want the CPU and two device processes", ds, err)
			}
			for i, want := range []string{"fault:" + tc.mode + "/1", "fault:" + tc.mode + "/2"} {
				if d := ds[i+1]; d.GetId() != want || d.GetKind() != "fault" || d.GetSlots() != 1 || (tc.healthy && !d.GetHealthy()) {
					t.Errorf("device %d: %v, want %s", i+1, d, want)
				}
			}
		})
	}
}

// A worker's --device with --procs-per-gpu 2 proves in two supervised
// device processes rather than in its own.
func TestWorkerProcsPerGPU(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	c := startRedisServe(t, redis.Addr)
	startWorker(t, "worker", redis.Addr, "--device", "fault:ok", "--procs-per-gpu", "2", "--workers", "2")
	ctx := timeout(t, 3*time.Minute)
	if got, want := provedOn(ctx, t, c, submitInvoices(t, c, 4)), []string{"fault:ok/1", "fault:ok/2"}; !slices.Equal(got, want) {
		t.Fatalf("jobs proved on %v, want %v", got, want)
	}
}

// provedOn waits for the jobs, checks each succeeded with a proof that
// verifies, and returns the backends that proved them, sorted.
func provedOn(ctx context.Context, t *testing.T, c *client.Client, ids []string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range ids {
		j, err := c.Wait(ctx, id)
		if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s: %v %v", id, j, err)
		}
		if v, err := c.Verify(ctx, j.GetProofJson(), ""); err != nil || !v.GetValid() {
			t.Fatalf("job %s: proof does not verify: %v %v", id, v, err)
		}
		seen[j.GetBackend()] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
