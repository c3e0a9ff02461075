package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched is the route label of requests no route matched (404, 405). Labels are
// route patterns, never raw paths: paths hold tenant slugs and ids, and every distinct
// label value is a new time series.
const routeUnmatched = "unmatched"

// metrics are the RED metrics of the HTTP API.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coditect_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status.",
		}, []string{"method", "route", "status"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coditect_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by method and route pattern.",
			// 1 ms (a cached read) to 10 s (well past any timeout we set).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"})),
		inFlight: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coditect_http_requests_in_flight",
			Help: "HTTP requests being served right now.",
		})),
	}
}

// register registers c, or reuses the collector already registered under the same
// description, so two servers built on one registry (tests, dev mode) share metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Errorf("httpapi: registering metrics: %w", err))
}

func (m *metrics) observe(method, route string, status int, elapsed time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
}

// methodLabel folds methods outside the standard set into "OTHER": clients choose the
// method, and a label must not take unbounded values.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
