package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports pgx pool statistics to Prometheus, read at scrape time (no
// per-request cost).
type PoolCollector struct {
	pool                                                 *pgxpool.Pool
	acquired, idle, total, max, constructing             *prometheus.Desc
	acquires, emptyAcquires, canceledAcquires, waitTotal *prometheus.Desc
}

// NewPoolCollector returns a collector for pool.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("coditect_db_pool_"+name, help, nil, nil)
	}
	return &PoolCollector{
		pool:             pool,
		acquired:         d("acquired_conns", "Connections currently in use."),
		idle:             d("idle_conns", "Idle connections in the pool."),
		total:            d("total_conns", "All connections in the pool."),
		max:              d("max_conns", "The pool's size limit."),
		constructing:     d("constructing_conns", "Connections being opened."),
		acquires:         d("acquires_total", "Connections handed out."),
		emptyAcquires:    d("empty_acquires_total", "Acquires that had to wait because no connection was idle."),
		canceledAcquires: d("canceled_acquires_total", "Acquires cancelled while waiting."),
		waitTotal:        d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.constructing, c.acquires, c.emptyAcquires, c.canceledAcquires, c.waitTotal} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.total, float64(s.TotalConns()))
	g(c.max, float64(s.MaxConns()))
	g(c.constructing, float64(s.ConstructingConns()))
	n(c.acquires, float64(s.AcquireCount()))
	n(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	n(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	n(c.waitTotal, s.AcquireDuration().Seconds())
}
