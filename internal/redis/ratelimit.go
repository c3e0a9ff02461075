package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/coditect/coditect/internal/ratelimit"
)

// Limiter is the shared GCRA rate limiter: one Lua script checks every limit of a
// request and draws from all of them only when all allow it, atomically, with Redis's
// clock (replicas' clocks never matter). A request's limits are a tenant's and a
// principal's in it (one Cluster slot, the tenant's) or a single global one. While
// Redis fails, the in-process fallback decides (see ratelimit.Local).
type Limiter struct {
	c        Client
	m        *Metrics
	fallback *ratelimit.Local
}

// NewLimiter returns a limiter on c with fallback for when Redis fails.
func NewLimiter(c Client, m *Metrics, fallback *ratelimit.Local) *Limiter {
	return &Limiter{c: c, m: m, fallback: fallback}
}

// gcraScript: KEYS are the buckets (each holds its theoretical arrival time in µs);
// ARGV holds each bucket's interval and burst, in µs. It returns the index (1-based)
// of a refusing bucket or 0, the wait in µs, then each bucket's remaining and reset
// (µs).
var gcraScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local nexts = {}
local blocked, retry = 0, 0
for i = 1, n do
  local iv, burst = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  nexts[i] = tat + iv
  local allow_at = nexts[i] - burst
  if now < allow_at and (blocked == 0 or allow_at - now > retry) then
    blocked, retry = i, allow_at - now
  end
end
local out = {blocked, retry}
for i = 1, n do
  local iv, burst = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  local tat = nexts[i]
  if blocked == 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  else
    tat = tat - iv
  end
  local remaining = math.floor((now + burst - tat) / iv)
  if remaining < 0 then remaining = 0 end
  local reset = tat - now
  if reset < 0 then reset = 0 end
  out[#out+1] = remaining
  out[#out+1] = reset
end
return out`)

// limitKey is a bucket's key: a tenant's and its principals' live in the tenant's slot.
func limitKey(l ratelimit.Limit) string {
	switch {
	case l.Scope == ratelimit.ScopeTenant:
		return TenantKey(l.Tenant, "rl")
	case !l.Tenant.IsZero():
		return TenantKey(l.Tenant, "rl", string(l.Scope), l.Subject)
	}
	return Key("rl", string(l.Scope), l.Subject)
}

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, limits []ratelimit.Limit) ratelimit.Decision {
	if len(limits) == 0 {
		return ratelimit.Decision{Allowed: true}
	}
	keys := make([]string, len(limits))
	args := make([]any, 0, 2*len(limits))
	for i, lim := range limits {
		keys[i] = limitKey(lim)
		iv := max(lim.Interval().Microseconds(), 1)
		args = append(args, strconv.FormatInt(iv, 10), strconv.FormatInt(iv*int64(max(lim.Rate, 1)), 10))
	}
	res, err := gcraScript.Run(ctx, l.c, keys, args...).Int64Slice()
	var d ratelimit.Decision
	if err != nil || len(res) != 2+2*len(limits) {
		d = l.fallback.Allow(ctx, limits)
	} else {
		outcomes := make([]ratelimit.Outcome, len(limits))
		for i := range limits {
			outcomes[i] = ratelimit.Outcome{Remaining: int(res[2+2*i]), Reset: time.Duration(res[3+2*i]) * time.Microsecond}
		}
		d = ratelimit.Decide(limits, outcomes, int(res[0])-1, time.Duration(res[1])*time.Microsecond)
	}
	l.record(limits, d)
	return d
}

// record counts the decision for each scope involved: the refusing scope as limited,
// the others as allowed only when the request went ahead.
func (l *Limiter) record(limits []ratelimit.Limit, d ratelimit.Decision) {
	backend := "redis"
	if d.Local {
		backend = "local"
	}
	if !d.Allowed {
		l.m.decisions.WithLabelValues(string(d.Limit.Scope), "limited", backend).Inc()
		return
	}
	for _, lim := range limits {
		l.m.decisions.WithLabelValues(string(lim.Scope), "allowed", backend).Inc()
	}
}
