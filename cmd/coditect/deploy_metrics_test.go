package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// externalMetrics are series the alert rules need from exporters other than CODITECT,
// by exact name.
var externalMetrics = map[string]bool{
	"kube_pod_container_status_restarts_total": true, // kube-state-metrics: crash loops
	"node_filesystem_avail_bytes":              true, // node-exporter: disk > 80 %
	"node_filesystem_size_bytes":               true, // node-exporter
}

// promFunctions are the PromQL functions and keywords the expressions may use; any
// other identifier with an underscore outside label matchers and groupings is taken
// as a metric name.
var promFunctions = map[string]bool{
	"histogram_quantile": true, "label_replace": true, "label_join": true, "absent_over_time": true,
	"avg_over_time": true, "max_over_time": true, "min_over_time": true, "sum_over_time": true,
	"count_over_time": true, "quantile_over_time": true, "last_over_time": true, "group_left": true,
	"group_right": true, "count_values": true, "sort_desc": true, "scalar": true, "vector": true,
}

var (
	promLabelSets   = regexp.MustCompile(`\{[^{}]*\}`)                                  // {route!~"…"}
	promGroupings   = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\([^()]*\)`)     // by (le, route)
	promStrings     = regexp.MustCompile(`"[^"]*"`)                                     // quoted text
	promTemplateVar = regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)                          // $__rate_interval
	promIdent       = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*_[a-zA-Z0-9_:]+\b`) // has an underscore
)

// promMetricNames returns the metric names an expression reads.
func promMetricNames(expr string) []string {
	e := promTemplateVar.ReplaceAllString(expr, "")
	for {
		next := promLabelSets.ReplaceAllString(e, "")
		if next == e {
			break
		}
		e = next
	}
	e = promGroupings.ReplaceAllString(e, "")
	e = promStrings.ReplaceAllString(e, "")
	var out []string
	for _, id := range promIdent.FindAllString(e, -1) {
		if !promFunctions[id] {
			out = append(out, id)
		}
	}
	return out
}

// deployMetricNames returns every metric name deploy/'s alert rules and dashboard use,
// with the file that uses it.
func deployMetricNames(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			}
		}
	}
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &rules))
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			require.NotEmpty(t, r.Expr, r.Alert)
			for _, m := range promMetricNames(r.Expr) {
				used[m] = "alerts.yml (" + r.Alert + ")"
			}
		}
	}
	require.Equal(t, 7, n, "the seven alerts of the design")

	var dash struct {
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	b, err = os.ReadFile("../../deploy/grafana/coditect.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &dash))
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			names := promMetricNames(tg.Expr)
			require.NotEmpty(t, names, "panel %q: no metric in %q", p.Title, tg.Expr)
			for _, m := range names {
				used[m] = "coditect.json (" + p.Title + ")"
			}
		}
	}
	return used
}

func TestPromMetricNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"coditect_http_request_duration_seconds_bucket"},
		promMetricNames(`histogram_quantile(0.99, sum by (le, route) (rate(coditect_http_request_duration_seconds_bucket{route!~"GET /(healthz|readyz)"}[$__rate_interval])))`))
	require.Equal(t, []string{"node_filesystem_avail_bytes", "node_filesystem_size_bytes"},
		promMetricNames(`(1 - node_filesystem_avail_bytes{fstype!~"tmpfs"} / node_filesystem_size_bytes{fstype!~"tmpfs"}) > 0.8`))
	require.Equal(t, []string{"coditect_db_pool_acquired_conns", "coditect_db_pool_max_conns"},
		promMetricNames(`coditect_db_pool_acquired_conns >= on (instance) coditect_db_pool_max_conns`))
}

// TestDeployMetricsAreExported keeps deploy/ (alert rules and dashboard) and the code
// from drifting apart: every metric they use is one a running `coditect serve
// --workers` exports on /metrics, or a named external exporter's, or (until issue 6
// is merged) one issue 6 adds.
func TestDeployMetricsAreExported(t *testing.T) {
	t.Parallel()
	used := deployMetricNames(t)
	for name := range externalMetrics {
		require.Contains(t, used, name, "externalMetrics lists %s, which deploy/ does not use", name)
	}

	env := dbEnv(t)
	env["REDIS_URL"] = os.Getenv("CODITECT_TEST_REDIS_URL")
	p := start(t, env, "serve", "--workers")
	status, _, _ := get(t, p.url+"/healthz")
	require.Equal(t, http.StatusOK, status)

	var exported map[string]*dto.MetricFamily
	missing := func() []string {
		status, body, _ := get(t, p.url+"/metrics")
		require.Equal(t, http.StatusOK, status)
		var err error
		parser := expfmt.NewTextParser(model.UTF8Validation)
		exported, err = parser.TextToMetricFamilies(strings.NewReader(body))
		require.NoError(t, err)
		var out []string
		for name := range used {
			if externalMetrics[name] {
				continue
			}
			if !exportedName(exported, name) {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	// The queue-depth and business gauges appear after their first refresh.
	deadline := time.Now().Add(60 * time.Second)
	var gone []string
	for gone = missing(); len(gone) > 0 && time.Now().Before(deadline); gone = missing() {
		time.Sleep(500 * time.Millisecond)
	}
	for _, name := range gone {
		t.Errorf("%s uses %s, which the binary does not export", used[name], name)
	}
	for name := range exported {
		for _, m := range exported[name].Metric {
			for _, l := range m.Label {
				require.NotContains(t, l.GetName(), "tenant", "%s: no metric is labelled by tenant", name)
			}
		}
	}
}

// exportedName says whether name is a family the scrape has, or a histogram or
// summary series (_bucket, _sum, _count) of one.
func exportedName(fams map[string]*dto.MetricFamily, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := fams[base]; ok && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return true
			}
		}
	}
	return false
}
