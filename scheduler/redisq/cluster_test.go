package redisq_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/conformance"
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

// On a Cluster the job's record and its task are on different slots, so
// a submission stores the job (marked not yet in line), pushes its task,
// then clears the mark: three round trips. asynq sees the task, a
// consumer takes it, and a job stored but never pushed is queued by the
// reconciliation.
func TestClusterAdmission(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	seeds := startCluster(t)
	c := dial(t, seeds)
	q := redisq.NewQueue(c, redisq.QueueConfig{Concurrency: 1, Poll: 20 * time.Millisecond, Logger: quiet})
	st := redisq.NewStore(c, redisq.StoreConfig{})
	s := scheduler.New(st, q, scheduler.Config{Admitter: redisq.NewAdmitter(st, q)})
	in := asynq.NewInspector(asynq.RedisClusterClientOpt{Addrs: strings.Split(seeds, ",")})
	defer in.Close()
	submit := func(n int) *scheduler.Job {
		t.Helper()
		j, created, err := s.Submit(ctx, scheduler.Request{Circuit: "invoice-consistency/v1", Input: conformance.Input(t, 7000+n)})
		if err != nil || !created {
			t.Fatalf("submit: %v %v", created, err)
		}
		return j
	}
	submit(0) // warm: scripts loaded, the queue noted in asynq:queues
	n := redisq.Count(c)
	j := submit(1)
	if trips := n.RoundTrips(); trips != 3 {
		t.Errorf("a submission on a Cluster took %d round trips; want 3", trips)
	}
	if info, err := in.GetTaskInfo("proofmill.interactive", j.ID); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("asynq on the Cluster: %+v %v", info, err)
	}
	if k, err := s.Reconcile(ctx); err != nil || k != 0 {
		t.Fatalf("reconcile: %d %v; want nothing to push", k, err)
	}
	lost := &scheduler.Job{ID: "lost", Circuit: "invoice-consistency/v1", State: scheduler.Queued, Submitted: time.Now().Add(-time.Minute), Version: 1}
	if _, created, err := st.Create(ctx, lost); err != nil || !created {
		t.Fatal(created, err)
	}
	if k, err := s.Reconcile(ctx); err != nil || k != 1 {
		t.Fatalf("reconcile: %d %v; want the lost job pushed", k, err)
	}
	if k, err := s.Reconcile(ctx); err != nil || k != 0 {
		t.Fatalf("reconcile again: %d %v; want nothing", k, err)
	}
	if k, err := s.Recover(ctx); err != nil || k != 3 {
		t.Fatalf("recover: %d %v", k, err)
	}
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer q.Shutdown()
	seen := map[string]bool{}
	for range 3 {
		got, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[got.ID] = true
		if err := s.Finish(ctx, got.ID, scheduler.Outcome{Attempt: got.Attempts, Result: []byte(`{}`), Backend: "cpu"}); err != nil {
			t.Fatal(err)
		}
	}
	if !seen["lost"] || !seen[j.ID] {
		t.Fatalf("consumed %v", seen)
	}
}
