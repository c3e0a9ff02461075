// Package ratelimit is the API's rate limiting: per tenant (the rate comes from the
// tenant's plan), per principal, and per client IP before sign-in. Limits are GCRA
// buckets ("generic cell rate algorithm"): a rate of N per period allows a burst of N
// and then one request every period/N, with no window edges to game. The shared
// limiter runs in Redis (internal/redis); Local is the same algorithm in process, the
// documented fallback while Redis fails.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Scope says whose budget a limit is.
type Scope string

// The scopes, as metrics and headers name them.
const (
	ScopeTenant    Scope = "tenant"
	ScopePrincipal Scope = "principal"
	ScopeIP        Scope = "ip"
)

// Limit is one budget a request draws from.
type Limit struct {
	Scope Scope
	// Tenant is the organization: the tenant's own budget, or the organization a
	// principal's budget is counted in (zero outside an organization).
	Tenant coditect.TenantID
	// Subject names the principal (account, API key or OAuth client id) or the IP.
	Subject string
	// Rate requests per Period, in a burst or spread out.
	Rate   int
	Period time.Duration
}

// Interval is the time one request uses up: Period / Rate, rounded up. A bucket's
// burst is Rate intervals.
func (l Limit) Interval() time.Duration {
	return time.Duration(math.Ceil(float64(l.Period) / float64(max(l.Rate, 1))))
}

// Decision is the answer for a request, described by its tightest limit: the one that
// refused it, or the one with the least left.
type Decision struct {
	Allowed bool
	Limit   Limit
	// Remaining is how many more requests the tightest limit allows right now.
	Remaining int
	// Reset is when the tightest limit's full budget is back.
	Reset time.Duration
	// RetryAfter is how long to wait before a refused request may succeed.
	RetryAfter time.Duration
	// Local is true when the in-process fallback decided (Redis failed).
	Local bool
}

// Limiter decides whether a request within all of limits may go ahead, and draws
// from every one of them only if so.
type Limiter interface {
	Allow(ctx context.Context, limits []Limit) Decision
}

// Outcome is one limit's state after a decision, for Decide.
type Outcome struct {
	Remaining int
	Reset     time.Duration
}

// Decide builds the Decision of a request from every limit's outcome: refused when
// blocked is a limit's index (-1: allowed), retryAfter its wait.
func Decide(limits []Limit, outcomes []Outcome, blocked int, retryAfter time.Duration) Decision {
	d := Decision{Allowed: blocked < 0, RetryAfter: retryAfter}
	tight := 0
	if blocked >= 0 {
		tight = blocked
	} else {
		for i := range outcomes {
			if outcomes[i].Remaining < outcomes[tight].Remaining {
				tight = i
			}
		}
	}
	if len(limits) > 0 {
		d.Limit, d.Remaining, d.Reset = limits[tight], outcomes[tight].Remaining, outcomes[tight].Reset
	}
	return d
}

// Local is the in-process GCRA limiter: the same buckets as the Redis one, kept per
// replica. While Redis fails, each replica enforces every limit on its own, so a
// client spread over N replicas may get up to N times its rate; that is the
// documented price of serving without Redis rather than refusing or not limiting.
type Local struct {
	mu   sync.Mutex
	tats map[string]time.Time // theoretical arrival time per bucket
	now  func() time.Time
}

// maxLocalBuckets bounds the fallback's memory; past it, drained buckets are dropped.
const maxLocalBuckets = 100_000

// NewLocal returns an in-process limiter; now nil means time.Now.
func NewLocal(now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{tats: make(map[string]time.Time), now: now}
}

func localKey(l Limit) string {
	return string(l.Scope) + "\x00" + l.Tenant.String() + "\x00" + l.Subject
}

// Allow implements Limiter.
func (l *Local) Allow(_ context.Context, limits []Limit) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.tats) > maxLocalBuckets {
		for k, tat := range l.tats {
			if tat.Before(now) {
				delete(l.tats, k)
			}
		}
	}
	outcomes := make([]Outcome, len(limits))
	next := make([]time.Time, len(limits))
	blocked, retry := -1, time.Duration(0)
	for i, lim := range limits {
		t := lim.Interval()
		burst := time.Duration(max(lim.Rate, 1)) * t
		tat := l.tats[localKey(lim)]
		if tat.Before(now) {
			tat = now
		}
		next[i] = tat.Add(t)
		if allowAt := next[i].Add(-burst); now.Before(allowAt) {
			if wait := allowAt.Sub(now); blocked < 0 || wait > retry {
				blocked, retry = i, wait
			}
		}
	}
	for i, lim := range limits {
		t := lim.Interval()
		burst := time.Duration(max(lim.Rate, 1)) * t
		tat := next[i]
		if blocked < 0 {
			l.tats[localKey(lim)] = tat
		} else {
			tat = tat.Add(-t)
		}
		outcomes[i] = Outcome{Remaining: max(0, int((now.Add(burst).Sub(tat))/t)), Reset: max(0, tat.Sub(now))}
	}
	d := Decide(limits, outcomes, blocked, retry)
	d.Local = true
	return d
}
