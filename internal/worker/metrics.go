package worker

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/coditect/coditect/internal/jobs"
)

// The worker's Prometheus metrics. No metric has a tenant label: one series per tenant
// would grow without bound, and per-tenant questions are answered by `coditect jobs
// list` instead.
//
//	coditect_jobs{kind,state}                       gauge: jobs in river_job by kind and state, refreshed every 15 s
//	coditect_job_wait_seconds{kind}                 histogram: scheduled_at → attempted_at, per attempt
//	coditect_job_duration_seconds{kind}             histogram: how long an attempt ran
//	coditect_job_failures_total{kind,outcome}       counter: failed attempts, outcome retryable|discarded|cancelled|panic
const (
	OutcomeRetryable = "retryable" // failed; River retries it after a backoff
	OutcomeDiscarded = "discarded" // failed its last attempt; kept as discarded
	OutcomeCancelled = "cancelled" // river.JobCancel (retrying cannot help) or cancelled by an operator
	OutcomePanic     = "panic"     // panicked; River recovers it and treats it as a failed attempt
)

// DefaultDepthEvery is how often the queue-depth gauges are recomputed.
const DefaultDepthEvery = 15 * time.Second

// QueueCounter counts river_job rows by kind and state; *postgres.Store implements it.
type QueueCounter interface {
	JobQueueCounts(ctx context.Context) ([]jobs.QueueCount, error)
}

// Metrics holds the worker's metrics. Build it once with NewMetrics and pass it to
// New in Config.Metrics; Worker.Run keeps the depth gauges fresh.
type Metrics struct {
	wait     *prometheus.HistogramVec
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
	depth    *depthCollector
	counter  QueueCounter
}

// NewMetrics registers the worker's metrics on reg. counter feeds the queue-depth
// gauges (nil leaves them out).
func NewMetrics(reg prometheus.Registerer, counter QueueCounter) (*Metrics, error) {
	m := &Metrics{
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coditect_job_wait_seconds",
			Help:    "Time a job waited to be started: from when it was due (scheduled_at) to when a worker took it (attempted_at).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coditect_job_duration_seconds",
			Help:    "Time one attempt of a job ran, whatever its outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coditect_job_failures_total",
			Help: "Failed job attempts by outcome: retryable (will be retried), discarded (out of attempts), cancelled, panic.",
		}, []string{"kind", "outcome"}),
		counter: counter,
	}
	cs := []prometheus.Collector{m.wait, m.duration, m.failures}
	if counter != nil {
		m.depth = &depthCollector{desc: prometheus.NewDesc("coditect_jobs",
			"Jobs in the queue by kind and state (finished ones until River deletes them), recomputed periodically.",
			[]string{"kind", "state"}, nil), kinds: map[string]bool{}}
		cs = append(cs, m.depth)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// RefreshDepth recomputes the queue-depth gauges now.
func (m *Metrics) RefreshDepth(ctx context.Context) error {
	if m.depth == nil {
		return nil
	}
	counts, err := m.counter.JobQueueCounts(ctx)
	if err != nil {
		return err
	}
	m.depth.set(counts)
	return nil
}

// refreshDepth recomputes the gauges every interval until ctx ends.
func (m *Metrics) refreshDepth(ctx context.Context, every time.Duration, log *slog.Logger) {
	if m.depth == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.RefreshDepth(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "worker metrics: counting jobs failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// depthCollector serves the last counts. Every kind it has seen is reported in every
// state, zero when absent, so a count that drops to zero reads 0 rather than vanishing.
type depthCollector struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	kinds  map[string]bool
	counts map[[2]string]int64
}

func (c *depthCollector) set(counts []jobs.QueueCount) {
	m := make(map[[2]string]int64, len(counts))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range counts {
		m[[2]string{q.Kind, q.State}] += q.Count
		c.kinds[q.Kind] = true
	}
	c.counts = m
}

// Describe implements prometheus.Collector.
func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kinds := make([]string, 0, len(c.kinds))
	for k := range c.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		for _, st := range rivertype.JobStates() {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.counts[[2]string{k, string(st)}]), k, string(st))
		}
	}
}

// metricsMiddleware times each attempt and classifies its failure. It is the outermost
// worker middleware, so it also sees jobs the tenant middleware refuses. A panic is
// counted by the error handler (River recovers it outside the middleware); the
// duration is observed on the way out either way.
type metricsMiddleware struct {
	river.MiddlewareDefaults
	m        *Metrics
	stopping *atomic.Bool // the worker is shutting down
}

// Work implements rivertype.WorkerMiddleware.
func (mw *metricsMiddleware) Work(ctx context.Context, job *rivertype.JobRow, next func(context.Context) error) error {
	if job.AttemptedAt != nil {
		mw.m.wait.WithLabelValues(job.Kind).Observe(max(job.AttemptedAt.Sub(job.ScheduledAt), 0).Seconds())
	}
	start := time.Now()
	defer func() { mw.m.duration.WithLabelValues(job.Kind).Observe(time.Since(start).Seconds()) }()
	err := next(ctx)
	if outcome := failureOutcome(ctx, job, err, mw.stopping.Load()); outcome != "" {
		mw.m.failures.WithLabelValues(job.Kind, outcome).Inc()
	}
	return err
}

// failureOutcome says what River will make of err ("" for no failure: success, a
// snooze, or a job interrupted by shutdown, which runs again without losing an attempt).
func failureOutcome(ctx context.Context, job *rivertype.JobRow, err error, stopping bool) string {
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	switch {
	case err == nil, errors.As(err, &snooze):
		return ""
	case errors.As(err, &cancel), errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely):
		return OutcomeCancelled
	case stopping && errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return "" // interrupted by shutdown: River makes it available again, attempt not spent
	case job.Attempt >= job.MaxAttempts:
		return OutcomeDiscarded
	}
	return OutcomeRetryable
}

// initKinds creates every kind's series at zero, so failure rates and latency
// quantiles exist (and rate() counts the first failure) before anything happens.
func (m *Metrics) initKinds(kinds []string) {
	for _, k := range kinds {
		m.wait.WithLabelValues(k)
		m.duration.WithLabelValues(k)
		for _, o := range []string{OutcomeRetryable, OutcomeDiscarded, OutcomeCancelled, OutcomePanic} {
			m.failures.WithLabelValues(k, o)
		}
	}
}

func (m *Metrics) panicked(kind string) {
	if m != nil {
		m.failures.WithLabelValues(kind, OutcomePanic).Inc()
	}
}
