package usage

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PlatformStats are the platform-wide business numbers: counts and sums over all
// tenants, never one tenant's figures.
type PlatformStats struct {
	Tenants       int64 // organizations that exist
	ActiveTenants int64 // organizations with an API call in the window
	Signups       int64 // accounts created since the statistics began
	APICalls      int64 // API calls recorded (flushed) since the statistics began
}

// PlatformReader reads the platform-wide numbers; *postgres.Store implements it.
type PlatformReader interface {
	PlatformStats(ctx context.Context, activeSince time.Time) (PlatformStats, error)
}

// ActiveWindow is how far back an API call makes a tenant active.
const ActiveWindow = 24 * time.Hour

// PlatformGauges exports the business numbers to Prometheus from a snapshot that Run
// refreshes periodically, so a scrape never queries the database:
//
//	coditect_tenants                    gauge: organizations
//	coditect_tenants_active_24h         gauge: organizations with an API call in the last 24 h
//	coditect_signups_total              counter: accounts created (sign-up or invitation)
//	coditect_api_calls_recorded_total   counter: API calls counted by the usage meter and flushed
//
// Every process exports the same platform-wide values: aggregate them with max, not sum.
// Nothing is exported until the first refresh succeeds.
type PlatformGauges struct {
	reader PlatformReader
	now    func() time.Time

	tenants, active, signups, calls *prometheus.Desc

	mu     sync.Mutex
	snap   PlatformStats
	loaded bool
}

// NewPlatformGauges registers the gauges on reg.
func NewPlatformGauges(reg prometheus.Registerer, r PlatformReader) (*PlatformGauges, error) {
	g := &PlatformGauges{reader: r, now: time.Now,
		tenants: prometheus.NewDesc("coditect_tenants", "Organizations on the platform, recomputed periodically.", nil, nil),
		active:  prometheus.NewDesc("coditect_tenants_active_24h", "Organizations with at least one API call in the last 24 hours (to the usage flush's 30 s), recomputed periodically.", nil, nil),
		signups: prometheus.NewDesc("coditect_signups_total", "Accounts created (sign-up or accepting an invitation as a new person), platform-wide; every process reports the same value.", nil, nil),
		calls:   prometheus.NewDesc("coditect_api_calls_recorded_total", "API calls inside organizations recorded by the usage meter (flushed every 30 s), platform-wide; every process reports the same value.", nil, nil),
	}
	return g, reg.Register(g)
}

// Refresh reads the numbers now.
func (g *PlatformGauges) Refresh(ctx context.Context) error {
	s, err := g.reader.PlatformStats(ctx, g.now().Add(-ActiveWindow))
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.snap, g.loaded = s, true
	g.mu.Unlock()
	return nil
}

// Run refreshes at once and then every interval until ctx ends.
func (g *PlatformGauges) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := g.Refresh(rctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Describe implements prometheus.Collector.
func (g *PlatformGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.tenants
	ch <- g.active
	ch <- g.signups
	ch <- g.calls
}

// Collect implements prometheus.Collector.
func (g *PlatformGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	s, ok := g.snap, g.loaded
	g.mu.Unlock()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(g.tenants, prometheus.GaugeValue, float64(s.Tenants))
	ch <- prometheus.MustNewConstMetric(g.active, prometheus.GaugeValue, float64(s.ActiveTenants))
	ch <- prometheus.MustNewConstMetric(g.signups, prometheus.CounterValue, float64(s.Signups))
	ch <- prometheus.MustNewConstMetric(g.calls, prometheus.CounterValue, float64(s.APICalls))
}
