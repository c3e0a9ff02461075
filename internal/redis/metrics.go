package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// Metrics are the Redis layer's Prometheus metrics, and the time Redis last failed,
// which the caches use to distrust entries that an invalidation lost meanwhile may
// have left stale. No tenant label anywhere.
type Metrics struct {
	requests    *prometheus.CounterVec // cache, result
	invalidated *prometheus.CounterVec // cache
	decisions   *prometheus.CounterVec // scope, decision, backend
	errors      prometheus.Counter
	duration    prometheus.Histogram
	lastFailure atomicMillis
	// openUntil: after a failure, commands fail at once until then (a circuit breaker),
	// so a dead or frozen Redis costs a request one timeout, not one per command.
	openUntil atomicMillis
}

// breakerCooldown is how long commands skip Redis after a failure; then the next
// command tries it again.
const breakerCooldown = 500 * time.Millisecond

// ErrSkipped is what a command gets while Redis is skipped after a failure.
var ErrSkipped = errors.New("redis: skipped for a moment after a failure")

// NewMetrics registers the Redis metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coditect_cache_requests_total",
			Help: "Cache lookups by cache (session, query, response) and result (hit, miss, error: Redis failed and the database answered).",
		}, []string{"cache", "result"}),
		invalidated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coditect_cache_invalidations_total",
			Help: "Cache invalidations (a write in a tenant, a revoked session) that Redis took.",
		}, []string{"cache"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coditect_ratelimit_decisions_total",
			Help: "Rate-limit decisions by scope (tenant, principal, ip), decision (allowed, limited) and backend (redis, or local: the in-process fallback while Redis fails).",
		}, []string{"scope", "decision", "backend"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coditect_redis_errors_total",
			Help: "Redis commands and pipelines that failed (timeouts, refused connections, server errors); each one was answered without Redis.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coditect_redis_command_duration_seconds",
			Help:    "Time of Redis commands and pipelines, as the client saw it.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
	}
	// Every series exists from the start, so rate() sees the first hit or refusal.
	for _, cache := range []string{CacheSession, CacheQuery, CacheResponse} {
		m.invalidated.WithLabelValues(cache)
		for _, result := range []string{"hit", "miss", "error"} {
			m.requests.WithLabelValues(cache, result)
		}
	}
	for _, scope := range []string{"tenant", "principal", "ip"} {
		for _, decision := range []string{"allowed", "limited"} {
			for _, backend := range []string{"redis", "local"} {
				m.decisions.WithLabelValues(scope, decision, backend)
			}
		}
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.invalidated, m.decisions, m.errors, m.duration)
	}
	return m
}

func (m *Metrics) result(cache, result string) { m.requests.WithLabelValues(cache, result).Inc() }

// Instrument adds the metrics hook to c: latency of every command and pipeline, and
// every failure (which also starts the caches' distrust window).
func Instrument(c Client, m *Metrics) { c.AddHook(hook{m}) }

type hook struct{ m *Metrics }

func (h hook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr) // a failed dial surfaces as the command's error
	}
}

func (h hook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.skip() {
			cmd.SetErr(ErrSkipped)
			return ErrSkipped
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.m.duration.Observe(time.Since(start).Seconds())
		h.failed(err)
		return err
	}
}

func (h hook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if h.skip() {
			for _, c := range cmds {
				c.SetErr(ErrSkipped)
			}
			return ErrSkipped
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.m.duration.Observe(time.Since(start).Seconds())
		h.failed(err)
		return err
	}
}

// failed records err when Redis was unreachable, slow or unable to serve. An error
// reply from a server that is up (a missing key, NOSCRIPT before go-redis sends the
// script itself, an unknown command) is an answer, not an outage.
func (h hook) failed(err error) {
	// A request that ended (the client went away, its deadline passed) says nothing
	// about Redis: it must not open the breaker or distrust the cache for everyone.
	if err == nil || errors.Is(err, goredis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	var reply goredis.Error
	if errors.As(err, &reply) && !unavailableReply(err.Error()) {
		return
	}
	h.m.errors.Inc()
	now := time.Now()
	h.m.failedNow(now)
	h.m.openUntil.Store(now.Add(breakerCooldown).UnixMilli())
}

// skip reports whether the breaker is open: Redis failed less than breakerCooldown ago.
func (h hook) skip() bool { return time.Now().UnixMilli() < h.m.openUntil.Load() }

// unavailableReply reports whether an error reply means the server cannot serve now.
func unavailableReply(msg string) bool {
	for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
