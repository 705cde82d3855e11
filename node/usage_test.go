package node_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testnode"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/tenants"
)

const usageCircuit = "invoice-consistency/v1" // the smallest circuit

// metricValue is the value of the one sample of name whose labels are
// exactly labels (as Prometheus writes them, sorted), 0 if there is none.
func metricValue(t *testing.T, body, name, labels string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+"{"+labels+"}") + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func proveAs(t *testing.T, c *client.Client, n int) *pb.Job {
	t.Helper()
	j, err := c.Prove(timeout(t, 2*time.Minute), &pb.SubmitProofRequest{Circuit: usageCircuit, InputJson: testinput.Invoice(t, n)})
	if err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("prove: %v %v", j, err)
	}
	return j
}

// byTenant sums records per tenant: proofs, constraints, stored bytes,
// and whether proof-seconds were counted.
func byTenant(recs []*pb.UsageRecord) map[string]string {
	sums := map[string][3]int64{}
	timed := map[string]bool{}
	for _, r := range recs {
		s := sums[r.GetTenant()]
		s[0], s[1], s[2] = s[0]+r.GetProofs(), s[1]+r.GetConstraints(), s[2]+r.GetStoredBytes()
		sums[r.GetTenant()] = s
		timed[r.GetTenant()] = timed[r.GetTenant()] || r.GetProofSeconds() > 0
	}
	out := map[string]string{}
	for k, s := range sums {
		out[k] = fmt.Sprintf("%d proofs, %d constraints, %d bytes, timed %v", s[0], s[1], s[2], timed[k])
	}
	return out
}

func constraintsOf(t *testing.T, id string) int64 {
	t.Helper()
	c, err := circuits.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return int64(c.Constraints)
}

// With tenants, on the embedded journal: the usage counters carry the
// tenant; GetUsage gives a tenant its own figures, refuses another's and
// gives the operator every tenant's; the figures survive a restart; and a
// tenant over its daily proof-seconds is refused with RESOURCE_EXHAUSTED
// naming the quota, after the job that crossed it ran.
func TestUsageByTenantSurvivesRestart(t *testing.T) {
	table := tenantTable(t, &tenants.Tenant{ID: "bank-a", DailyProofSeconds: 0.001}, &tenants.Tenant{ID: "bank-b"},
		&tenants.Tenant{ID: "ops", Operator: true})
	data := t.TempDir()
	edit := func(cfg *node.Config) { cfg.Tenants, cfg.DataDir, cfg.MetricsListen = table, data, "127.0.0.1:0" }
	n, _ := startNode(t, edit)
	a := dialAs(t, n, client.Options{Token: "bank-a-token"})
	b := dialAs(t, n, client.Options{Token: "bank-b-token"})
	ja := proveAs(t, a, 1100)
	bytesB := len(proveAs(t, b, 1101).GetProofJson()) + len(proveAs(t, b, 1102).GetProofJson())

	body := scrape(t, n.MetricsAddr())
	labels := func(tenant string) string {
		return `backend="cpu",circuit="` + usageCircuit + `",tenant="` + tenant + `"`
	}
	k := constraintsOf(t, usageCircuit)
	for _, c := range []struct {
		name, tenant string
		want         float64
	}{
		{"proofmill_usage_proofs_total", "bank-a", 1},
		{"proofmill_usage_proofs_total", "bank-b", 2},
		{"proofmill_usage_constraints_total", "bank-b", float64(2 * k)},
		{"proofmill_usage_stored_bytes_total", "bank-a", float64(len(ja.GetProofJson()))},
	} {
		if got := metricValue(t, body, c.name, labels(c.tenant)); got != c.want {
			t.Errorf("%s{tenant=%s} = %g, want %g\n%s", c.name, c.tenant, got, c.want, grep(body, "proofmill_usage_"))
		}
	}
	if metricValue(t, body, "proofmill_usage_proof_seconds_total", labels("bank-b")) <= 0 {
		t.Errorf("no proof-seconds counted for bank-b:\n%s", grep(body, "proofmill_usage_"))
	}

	// bank-a's one proof took more than its 0.001 proof-seconds a day.
	_, _, err := a.Submit(timeout(t, time.Minute), &pb.SubmitProofRequest{Circuit: usageCircuit, InputJson: testinput.Invoice(t, 1103)})
	if status.Code(err) != codes.ResourceExhausted || errcode.Of(err) != errcode.UsageQuota ||
		!regexp.MustCompile(`tenant bank-a used [0-9.]+ of its 0\.001 proof-seconds today`).MatchString(err.Error()) {
		t.Fatalf("bank-a over its quota: %v (%s)", err, errcode.Of(err))
	}
	bytesB += len(proveAs(t, b, 1103).GetProofJson()) // bank-b has no quota

	if err := n.Shutdown(timeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	n2, _ := startNode(t, edit)
	ctx := timeout(t, time.Minute)
	wantB := fmt.Sprintf("3 proofs, %d constraints, %d bytes, timed true", 3*k, bytesB)
	own, err := dialAs(t, n2, client.Options{Token: "bank-b-token"}).Usage(ctx, "", "")
	if got := byTenant(own); err != nil || len(got) != 1 || got["bank-b"] != wantB {
		t.Fatalf("bank-b's own usage after a restart: %v %v, want %s", got, err, wantB)
	}
	if _, err := dialAs(t, n2, client.Options{Token: "bank-b-token"}).Usage(ctx, "", "bank-a"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bank-b reading bank-a's usage: %v", err)
	}
	all, err := dialAs(t, n2, client.Options{Token: "ops-token"}).Usage(ctx, scheduler.Day(time.Now()), "")
	if got := byTenant(all); err != nil || len(got) != 2 || got["bank-b"] != wantB || !strings.HasPrefix(got["bank-a"], "1 proofs") {
		t.Fatalf("the operator's view after a restart: %v %v", got, err)
	}
	tomorrow := scheduler.Day(time.Now().Add(24 * time.Hour))
	if later, err := dialAs(t, n2, client.Options{Token: "ops-token"}).Usage(ctx, tomorrow, ""); err != nil || len(later) != 0 {
		t.Fatalf("usage since tomorrow: %v %v", later, err)
	}
}

// Without tenants the usage counters have no tenant label at all.
func TestUsageCountersWithoutTenants(t *testing.T) {
	n, c := startNode(t, func(cfg *node.Config) { cfg.MetricsListen = "127.0.0.1:0" })
	proveAs(t, c, 1110)
	body := scrape(t, n.MetricsAddr())
	lines := grep(body, "proofmill_usage_proofs_total{")
	if metricValue(t, body, "proofmill_usage_proofs_total", `backend="cpu",circuit="`+usageCircuit+`"`) != 1 || strings.Contains(grep(body, "proofmill_usage_"), "tenant=") {
		t.Fatalf("usage counters without tenants:\n%s", lines)
	}
	recs, err := c.Usage(timeout(t, time.Minute), "", "")
	if err != nil || len(recs) != 1 || recs[0].GetTenant() != "" || recs[0].GetProofs() != 1 {
		t.Fatalf("usage without tenants: %v %v", recs, err)
	}
}

// On Redis, two servers and two worker processes (nodes): each job is
// counted once, by the worker that recorded its outcome, and either
// server answers the same figures.
func TestUsageOnRedisTwoWorkers(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	table := tenantTable(t, &tenants.Tenant{ID: "bank-a"}, &tenants.Tenant{ID: "bank-b"}, &tenants.Tenant{ID: "ops", Operator: true})
	var logs proctest.Buffer
	serve := func(cfg *node.Config) { onRedis(redis.Addr, &logs, false)(cfg); cfg.Tenants = table }
	s1, s2 := testnode.Start(t, serve), testnode.Start(t, serve)
	var workers []*node.Node
	for range 2 {
		workers = append(workers, testnode.Start(t, func(cfg *node.Config) {
			serve(cfg)
			cfg.Role, cfg.Workers, cfg.Listen, cfg.MetricsListen = node.Worker, 1, "", "127.0.0.1:0"
		}))
	}
	a := dialAs(t, s1, client.Options{Token: "bank-a-token"})
	b := dialAs(t, s2, client.Options{Token: "bank-b-token"})
	ctx := timeout(t, 3*time.Minute)
	var ids []string
	for i := range 6 {
		c := a
		if i%3 == 2 {
			c = b
		}
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: usageCircuit, InputJson: testinput.Invoice(t, 1120+i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.GetId())
		if i%3 == 2 {
			if j, err := b.Wait(ctx, j.GetId()); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("bank-b's job: %v %v", j, err)
			}
		}
	}
	for i, id := range ids {
		if i%3 != 2 {
			if j, err := a.Wait(ctx, id); err != nil || j.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("bank-a's job: %v %v", j, err)
			}
		}
	}
	k := constraintsOf(t, usageCircuit)
	var views []map[string]string
	for _, s := range []*node.Node{s1, s2} {
		recs, err := dialAs(t, s, client.Options{Token: "ops-token"}).Usage(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		views = append(views, byTenant(recs))
	}
	for i, v := range views {
		if !strings.HasPrefix(v["bank-a"], fmt.Sprintf("4 proofs, %d constraints", 4*k)) || !strings.HasPrefix(v["bank-b"], fmt.Sprintf("2 proofs, %d constraints", 2*k)) ||
			!strings.HasSuffix(v["bank-a"], "timed true") || fmt.Sprint(v) != fmt.Sprint(views[0]) {
			t.Fatalf("server %d's view of usage: %v (server 1's: %v)", i+1, v, views[0])
		}
	}
	counted := map[string]float64{}
	for _, w := range workers {
		body := scrape(t, w.MetricsAddr())
		for _, tenant := range []string{"bank-a", "bank-b"} {
			counted[tenant] += metricValue(t, body, "proofmill_usage_proofs_total", `backend="cpu",circuit="`+usageCircuit+`",tenant="`+tenant+`"`)
		}
	}
	if counted["bank-a"] != 4 || counted["bank-b"] != 2 {
		t.Fatalf("the workers' counters add to %v, want bank-a 4, bank-b 2", counted)
	}
}
