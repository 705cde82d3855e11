package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/scheduler"
)

// The Grafana dashboard and the Prometheus rules in deploy/ name only
// metrics this package registers, with labels they have and, for the labels
// whose values the code defines (priority, state, outcome), values they
// take. A metric or label renamed here fails this test until deploy/
// follows.
const (
	dashboardFile  = "../deploy/grafana/proofmill.json"
	alertsFile     = "../deploy/prometheus/alerts.yml"
	alertsTestFile = "../deploy/prometheus/alerts_test.yml"
)

// family is one registered metric family, as the registry serves it.
type family struct {
	kind   string                     // COUNTER, GAUGE, HISTOGRAM, ...
	labels map[string]map[string]bool // label name -> values seen
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// codeValued are the labels whose values come from the code (not from a
// job's circuit or a device's name), so a reference to another value is a
// mistake.
var codeValued = []string{"priority", "state", "outcome"}

// registered builds the metrics the way Start does, over stub sources,
// records one of everything, and reads back what the registry serves.
func registered(t *testing.T) map[string]family {
	t.Helper()
	m := newMetrics(metricsSources{
		Waiting: func(context.Context) (map[scheduler.Priority]int, error) { return map[scheduler.Priority]int{}, nil },
		Counts:  func(context.Context) (map[scheduler.State]int, error) { return map[scheduler.State]int{}, nil },
		Busy:    func() int { return 0 },
		Slots:   func() int { return 1 },
		Devices: func() []hwaccel.DeviceStatus {
			return []hwaccel.DeviceStatus{{Device: hwaccel.Device{ID: "cuda:0"}, Up: true, Healthy: true}}
		},
		Durable: func(context.Context) (string, bool) { return "journal", true },
		Tenants: true, // the dashboard groups usage by tenant
	})
	now := time.Now()
	job := &scheduler.Job{Circuit: "test/v1", Attempts: 1, Submitted: now.Add(-time.Second), Started: now}
	m.observe(job, scheduler.Outcome{Backend: "cpu"}, time.Second)
	m.observe(job, scheduler.Outcome{Backend: "cpu", Err: errcode.E("", errcode.Unavailable, errors.New("away"))}, 0)
	m.observe(job, scheduler.Outcome{Backend: "cpu", Err: errcode.E("", errcode.Unsatisfied, errors.New("no"))}, 0)
	m.forecastMissed(time.Second)
	m.fellBack("fault:test", "crashed")
	m.usage.add(scheduler.Usage{Tenant: "bank-a", Day: "2026-11-01", Circuit: "test/v1", Backend: "cpu", Proofs: 1, ProofMillis: 1000, Constraints: 10, StoredBytes: 100})
	mfs, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]family{}
	for _, mf := range mfs {
		f := family{kind: mf.GetType().String(), labels: map[string]map[string]bool{}}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if f.labels[l.GetName()] == nil {
					f.labels[l.GetName()] = map[string]bool{}
				}
				f.labels[l.GetName()][l.GetValue()] = true
			}
		}
		fams[mf.GetName()] = f
	}
	// The families deploy/ relies on must be there at all, or the rest of
	// this test checks nothing.
	for _, name := range []string{"proofmill_queue_depth", "proofmill_jobs", "proofmill_proof_seconds", "proofmill_attempts_total",
		"proofmill_device_fallbacks_total", "proofmill_start_forecast_error_seconds", "proofmill_worker_utilization",
		"proofmill_queue_wait_seconds", "proofmill_failures_total", "proofmill_device_healthy", "proofmill_durable",
		"proofmill_usage_proofs_total", "proofmill_usage_proof_seconds_total", "proofmill_usage_constraints_total", "proofmill_usage_stored_bytes_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("the registry serves no %s", name)
		}
	}
	return fams
}

var (
	// A metric name, with the selector that may follow it.
	metricRef = regexp.MustCompile(`\b((?:proofmill|process|go)_[a-z0-9_]*[a-z0-9])\b(\{[^}]*\})?`)
	matcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	grouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	legend    = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	labelArg  = regexp.MustCompile(`label_values\([^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
	plainAlts = regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`)
)

// checkRefs checks every metric reference in text (from the file named
// where) against fams.
func checkRefs(t *testing.T, where, text string, fams map[string]family) {
	t.Helper()
	allLabels := map[string]bool{"le": true}
	for _, l := range targetLabels {
		allLabels[l] = true
	}
	for _, f := range fams {
		for l := range f.labels {
			allLabels[l] = true
		}
	}
	refs := 0
	for _, m := range metricRef.FindAllStringSubmatch(text, -1) {
		refs++
		name, selector := m[1], m[2]
		f, ok := fams[name]
		suffix := ""
		if !ok {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				base, cut := strings.CutSuffix(name, s)
				if bf, found := fams[base]; cut && found && (bf.kind == "HISTOGRAM" || bf.kind == "SUMMARY") {
					f, ok, suffix = bf, true, s
				}
			}
		}
		if !ok {
			t.Errorf("%s: %s is not a metric the node registers", where, name)
			continue
		}
		for _, mm := range matcher.FindAllStringSubmatch(selector, -1) {
			label, value := mm[1], mm[3]
			values, has := f.labels[label]
			switch {
			case has:
			case slices.Contains(targetLabels, label), label == "le" && suffix == "_bucket":
				continue
			default:
				t.Errorf("%s: %s has no label %q (it has %v)", where, name, label, sortedKeys(f.labels))
				continue
			}
			if !slices.Contains(codeValued, label) || !plainAlts.MatchString(value) {
				continue
			}
			for _, v := range strings.Split(value, "|") {
				if !values[v] {
					t.Errorf("%s: %s{%s} never takes the value %q (it takes %v)", where, name, label, v, sortedKeys(values))
				}
			}
		}
	}
	if refs == 0 {
		t.Errorf("%s names no metric", where)
	}
	var used []string
	for _, re := range []*regexp.Regexp{grouping, legend, labelArg} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" {
					used = append(used, l)
				}
			}
		}
	}
	for _, l := range used {
		if !allLabels[l] {
			t.Errorf("%s: groups or labels by %q, which no metric has", where, l)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestDeployRulesNameRealMetrics(t *testing.T) {
	fams := registered(t)
	for _, file := range []string{alertsFile, alertsTestFile} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checkRefs(t, filepath.Base(file), string(data), fams)
	}
}

// dashboard is the parts of the Grafana JSON model the test reads.
type dashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Datasource json.RawMessage `json:"datasource"`
		Expr       string          `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

// The dashboard parses, takes its Prometheus from a variable (no data
// source UID of one Grafana), and its queries name real metrics.
func TestDeployDashboardNamesRealMetrics(t *testing.T) {
	fams := registered(t)
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s does not parse: %v", dashboardFile, err)
	}
	if d.UID == "" {
		t.Error("the dashboard has no uid")
	}
	hasVar := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasVar = true
		}
	}
	if !hasVar {
		t.Error(`the dashboard has no "datasource" variable of type datasource over prometheus`)
	}
	var all []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	ids := map[int]string{}
	var exprs []string
	for _, p := range all {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if p.Datasource == nil {
			t.Errorf("panel %q names no data source", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	// Every data source anywhere (panels, queries, variables) is the
	// variable's.
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		t.Fatal(err)
	}
	var sources func(path string, v any)
	sources = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "datasource" {
					ds, _ := c.(map[string]any)
					if ds["type"] != "prometheus" || ds["uid"] != "${datasource}" {
						t.Errorf("%s.datasource is %v, want {type: prometheus, uid: ${datasource}}", path, c)
					}
					continue
				}
				sources(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				sources(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	sources("", tree)
	// The whole file, so the variables' queries and the legends count too.
	checkRefs(t, filepath.Base(dashboardFile), string(data), fams)
	checkPromQL(t, exprs)
}

// checkPromQL has promtool parse the dashboard's queries (as recording
// rules, with the dashboard's variables filled in). It fails without
// promtool: .ci/run installs it (Debian's prometheus package).
func checkPromQL(t *testing.T, exprs []string) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (apt-get install prometheus; .ci/run does): the dashboard's PromQL cannot be parsed")
	}
	fill := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*", "$circuit", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(fill.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}

// ProofmillMetricsAbsent (deploy/prometheus/alerts.yml) counts on this: a
// queue depth that cannot be read (Redis away, the journal unreadable)
// fails the whole scrape, rather than leaving the depth out of it.
func TestMetricsFailWhenQueueUnreadable(t *testing.T) {
	m := newMetrics(metricsSources{
		Waiting: func(context.Context) (map[scheduler.Priority]int, error) { return nil, errors.New("redis away") },
		Busy:    func() int { return 0 },
		Slots:   func() int { return 1 },
	})
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("/metrics answered %d with the queue unreadable, want 500:\n%s", rec.Code, rec.Body)
	}
}
