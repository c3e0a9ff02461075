package httpapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/ratelimit"
)

// RateLimits are the API's request budgets (see ratelimit). Every rate is requests
// per Period; 0 or less turns that scope's limit off.
type RateLimits struct {
	// Period is the window the rates are counted over; 0 means one minute.
	Period time.Duration
	// Tenant returns an organization's rate, normally its plan's API rate limit, so
	// that changing a plan (or a plan's limit) changes it without a deploy. Nil: no
	// per-organization limit.
	Tenant func(ctx context.Context, t coditect.TenantID) int
	// Principal is each account's, API key's or OAuth client's rate, counted per
	// organization for requests in one and once more outside them.
	Principal int
	// IP is each client address's rate for requests without credentials (sign-up,
	// login, password reset, invitation links…).
	IP int
}

// codeRateLimited answers a request over its budget.
const codeRateLimited coditect.Code = "rate_limited"

// limits returns the budgets a request draws from: a member request its tenant's and
// its principal's in that tenant, another signed-in request its principal's, an
// anonymous one its IP's.
func (a *access) limits(ctx context.Context, r *http.Request, actor coditect.Actor, signedIn bool) []ratelimit.Limit {
	rl := a.rates
	period := rl.Period
	if period <= 0 {
		period = time.Minute
	}
	var out []ratelimit.Limit
	if !signedIn {
		if rl.IP > 0 {
			out = append(out, ratelimit.Limit{Scope: ratelimit.ScopeIP, Subject: remoteIP(r), Rate: rl.IP, Period: period})
		}
		return out
	}
	if !actor.Tenant.IsZero() && rl.Tenant != nil {
		if rate := rl.Tenant(ctx, actor.Tenant); rate > 0 {
			out = append(out, ratelimit.Limit{Scope: ratelimit.ScopeTenant, Tenant: actor.Tenant, Rate: rate, Period: period})
		}
	}
	if rl.Principal > 0 && actor.ID() != "" {
		out = append(out, ratelimit.Limit{Scope: ratelimit.ScopePrincipal, Tenant: actor.Tenant, Subject: string(actor.Kind) + ":" + actor.ID(),
			Rate: rl.Principal, Period: period})
	}
	return out
}

// rateLimit draws the request from its budgets and sets the RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers) of its tightest one. False means the request
// is over budget: it has been answered 429 with Retry-After.
func (a *access) rateLimit(w http.ResponseWriter, r *http.Request, limits []ratelimit.Limit) bool {
	if a.limiter == nil || len(limits) == 0 {
		return true
	}
	d := a.limiter.Allow(r.Context(), limits)
	h := w.Header()
	window := int(math.Round(d.Limit.Period.Seconds()))
	h.Set("RateLimit-Policy", strconv.Itoa(d.Limit.Rate)+";w="+strconv.Itoa(window))
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit.Rate))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	if d.Allowed {
		return true
	}
	h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.RetryAfter))))
	writeProblem(w, r, &coditect.Error{Code: codeRateLimited, Kind: coditect.CodeRateLimited,
		Message: "too many requests for this " + string(d.Limit.Scope) + ": the limit is " + strconv.Itoa(d.Limit.Rate) +
			" per " + d.Limit.Period.String() + "; retry after the number of seconds in Retry-After"})
	return false
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
