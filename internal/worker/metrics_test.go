package worker_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// outcomeArgs is a tenant job that ends the way Mode says.
type outcomeArgs struct {
	coditect.TenantJob
	Mode string `json:"mode"` // ok, fail, cancel, panic
}

func (outcomeArgs) Kind() string { return "test.outcome" }

type outcomeWorker struct {
	river.WorkerDefaults[outcomeArgs]
}

func (outcomeWorker) Work(ctx context.Context, job *river.Job[outcomeArgs]) error {
	switch job.Args.Mode {
	case "fail":
		return errors.New("the remote service said no")
	case "cancel":
		return river.JobCancel(errors.New("the arguments cannot work"))
	case "panic":
		panic("boom")
	}
	return nil
}

// NextRetry keeps a failed job retryable for the whole test.
func (outcomeWorker) NextRetry(*river.Job[outcomeArgs]) time.Time { return time.Now().Add(time.Hour) }

// scrape reads reg the way Prometheus does and returns the value of the series name
// with labels (a gauge's or counter's value, or a histogram's count).
func scrape(t *testing.T, reg *prometheus.Registry) func(name string, labels map[string]string) (float64, bool) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, strings.ToLower(l.GetName()), "tenant", "%s has a tenant label", name)
			}
		}
	}
	return func(name string, labels map[string]string) (float64, bool) {
	metrics:
		for _, m := range fams[name].GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			default:
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	pool := postgrestest.Pool(t, db.AppURL)
	admin := postgrestest.Pool(t, db.AdminURL)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := worker.NewMetrics(reg, store)
	require.NoError(t, err)
	_, err = worker.NewMetrics(reg, store)
	require.Error(t, err, "registering twice on one registry fails rather than panics")

	tenant := coditect.NewID[coditect.TenantID]()
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	for mode, attempts := range map[string]int{"ok": 1, "fail": 1, "retry": 5, "cancel": 5, "panic": 1} {
		args := outcomeArgs{TenantJob: coditect.TenantJob{TenantID: tenant}, Mode: mode}
		if mode == "retry" {
			args.Mode = "fail"
		}
		_, err := inserter.Insert(ctx, args, &river.InsertOpts{MaxAttempts: attempts})
		require.NoError(t, err)
	}

	wreg := worker.NewRegistry()
	worker.AddTenant(wreg, &outcomeWorker{})
	runWorker(t, newWorker(t, pool, wreg, worker.Config{Metrics: m, DepthEvery: 50 * time.Millisecond}), 5*time.Second)

	states := func() map[string]int {
		out := map[string]int{}
		rows, err := admin.Query(ctx, "SELECT state::text FROM river_job WHERE kind = 'test.outcome'")
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out[s]++
		}
		return out
	}
	want := map[string]int{"completed": 1, "discarded": 2, "retryable": 1, "cancelled": 1}
	require.Eventually(t, func() bool { return len(states()) == 4 && states()["discarded"] == 2 }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, want, states())

	// The depth gauges catch up on their next refresh (every 50 ms here, 15 s by default).
	require.Eventually(t, func() bool {
		v, _ := scrape(t, reg)("coditect_jobs", map[string]string{"kind": "test.outcome", "state": "discarded"})
		return v == 2
	}, 10*time.Second, 20*time.Millisecond)
	get := scrape(t, reg)
	for state, n := range map[string]float64{"completed": 1, "discarded": 2, "retryable": 1, "cancelled": 1, "available": 0, "running": 0} {
		v, ok := get("coditect_jobs", map[string]string{"kind": "test.outcome", "state": state})
		require.True(t, ok, "coditect_jobs{state=%q} is reported", state)
		require.Equal(t, n, v, "coditect_jobs{state=%q}", state)
	}
	for outcome, n := range map[string]float64{"retryable": 1, "discarded": 1, "cancelled": 1, "panic": 1} {
		v, ok := get("coditect_job_failures_total", map[string]string{"kind": "test.outcome", "outcome": outcome})
		require.True(t, ok, "failures{outcome=%q} is reported", outcome)
		require.Equal(t, n, v, "failures{outcome=%q}", outcome)
	}
	for _, h := range []string{"coditect_job_wait_seconds", "coditect_job_duration_seconds"} {
		v, ok := get(h, map[string]string{"kind": "test.outcome"})
		require.True(t, ok, h)
		require.Equal(t, 5.0, v, "%s observes every attempt, the panicking one too", h)
	}
}
