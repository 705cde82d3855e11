package redisq_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler/redisq"
)

// startCluster starts a Redis Cluster of three masters, the first with
// extra args, and returns its seed address list.
func startCluster(t *testing.T, first ...string) string {
	t.Helper()
	var addrs []string
	for i := range 3 {
		args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}
		if i == 0 {
			args = append(args, first...)
		}
		addrs = append(addrs, redistest.StartWith(t, args...).Addr)
	}
	out, err := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		c := dial(t, a)
		for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
			info, err := redisq.Info(t.Context(), c, "cluster")
			if err == nil && strings.Contains(info, "cluster_enabled:1") {
				if state, _ := clusterState(t, c); state == "ok" {
					break
				}
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("cluster at %s not ok in 20 s", a)
			}
		}
	}
	return strings.Join(addrs, ",")
}

func clusterState(t *testing.T, c *redisq.Conn) (string, error) {
	s, err := redisq.ClusterInfo(t.Context(), c)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v, nil
		}
	}
	return "", nil
}

// On a Cluster, every master's settings are checked (one without
// persistence is named), and the replica wait runs on the jobs' master.
func TestClusterDurabilityAndReplicas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	good := dial(t, startCluster(t))
	if err := redisq.CheckDurability(ctx, good, redisq.DurabilityConfig{Logger: quiet}); err != nil {
		t.Fatalf("a persistent cluster refused: %v", err)
	}
	s := redisq.NewStore(good, redisq.StoreConfig{MinReplicas: 1, ReplicaTimeout: 200 * time.Millisecond})
	if _, _, err := s.Create(ctx, replicaJob("no-replica")); !errors.Is(err, redisq.ErrTooFewReplicas) {
		t.Fatalf("a cluster without replicas acknowledged with MinReplicas 1: %v", err)
	}

	seeds := startCluster(t, "--appendonly", "no")
	volatile := strings.Split(seeds, ",")[0]
	err := redisq.CheckDurability(ctx, dial(t, seeds), redisq.DurabilityConfig{Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), volatile+`: appendonly is "no"`) {
		t.Fatalf("a cluster with one volatile master: %v; want it named (%s)", err, volatile)
	}
}
