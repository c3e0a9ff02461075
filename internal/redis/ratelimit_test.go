package redis_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/ratelimit"
	"github.com/coditect/coditect/internal/redis"
)

func TestLimiterAllowsTheRateThenRefusesUntilTheWindowPasses(t *testing.T) {
	t.Parallel()
	c := setup(t)
	reg := prometheus.NewRegistry()
	l := redis.NewLimiter(c, redis.NewMetrics(reg), ratelimit.NewLocal(nil))
	tenant := coditect.NewID[coditect.TenantID]()
	limits := []ratelimit.Limit{
		{Scope: ratelimit.ScopeTenant, Tenant: tenant, Rate: 100, Period: time.Second},
		{Scope: ratelimit.ScopePrincipal, Tenant: tenant, Subject: "api_key:1", Rate: 3, Period: 600 * time.Millisecond},
	}
	for want := 2; want >= 0; want-- {
		d := l.Allow(context.Background(), limits)
		require.True(t, d.Allowed)
		require.False(t, d.Local)
		require.Equal(t, ratelimit.ScopePrincipal, d.Limit.Scope, "the tighter limit describes the answer")
		require.Equal(t, want, d.Remaining)
	}
	d := l.Allow(context.Background(), limits)
	require.False(t, d.Allowed)
	require.Equal(t, ratelimit.ScopePrincipal, d.Limit.Scope)
	require.Positive(t, d.RetryAfter)
	require.LessOrEqual(t, d.RetryAfter, 200*time.Millisecond, "one interval (600 ms / 3)")

	t.Run("a refused request took nothing from the tenant's budget", func(t *testing.T) {
		other := []ratelimit.Limit{limits[0], {Scope: ratelimit.ScopePrincipal, Tenant: tenant, Subject: "api_key:2", Rate: 1000, Period: time.Second}}
		d := l.Allow(context.Background(), other)
		require.True(t, d.Allowed)
		require.Equal(t, ratelimit.ScopeTenant, d.Limit.Scope)
		require.Equal(t, 100-3-1, d.Remaining)
	})
	t.Run("another tenant has its own budget", func(t *testing.T) {
		b := coditect.NewID[coditect.TenantID]()
		d := l.Allow(context.Background(), []ratelimit.Limit{{Scope: ratelimit.ScopePrincipal, Tenant: b, Subject: "api_key:1", Rate: 3, Period: time.Minute}})
		require.True(t, d.Allowed)
		require.Equal(t, 2, d.Remaining)
	})

	time.Sleep(d.RetryAfter + 10*time.Millisecond)
	require.True(t, l.Allow(context.Background(), limits).Allowed, "allowed again after Retry-After")
	require.Positive(t, counterSum(t, reg, "coditect_ratelimit_decisions_total"))
}

func TestLimiterFallsBackToTheProcessWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	c, err := redis.Open("redis://127.0.0.1:1/0")
	require.NoError(t, err)
	defer c.Close()
	l := redis.NewLimiter(c, redis.NewMetrics(nil), ratelimit.NewLocal(nil))
	limits := []ratelimit.Limit{{Scope: ratelimit.ScopeIP, Subject: "192.0.2.7", Rate: 2, Period: time.Minute}}
	start := time.Now()
	require.True(t, l.Allow(context.Background(), limits).Allowed)
	d := l.Allow(context.Background(), limits)
	require.True(t, d.Allowed)
	require.True(t, d.Local)
	d = l.Allow(context.Background(), limits)
	require.False(t, d.Allowed, "the in-process limit still limits")
	require.True(t, d.Local)
	require.Less(t, time.Since(start), 5*time.Second, "a dead Redis costs milliseconds, not seconds")
}

// BenchmarkLimiterAllow is the rate limiter's cost per request: one Lua call checking
// a tenant's and a principal's bucket (compare BenchmarkCacheHit, one cache lookup).
func BenchmarkLimiterAllow(b *testing.B) {
	url := os.Getenv("CODITECT_TEST_REDIS_URL")
	if url == "" {
		b.Skip("CODITECT_TEST_REDIS_URL is not set")
	}
	c, err := redis.Open(url)
	require.NoError(b, err)
	defer c.Close()
	l := redis.NewLimiter(c, redis.NewMetrics(nil), ratelimit.NewLocal(nil))
	tenant := coditect.NewID[coditect.TenantID]()
	limits := []ratelimit.Limit{
		{Scope: ratelimit.ScopeTenant, Tenant: tenant, Rate: 1 << 30, Period: time.Minute},
		{Scope: ratelimit.ScopePrincipal, Tenant: tenant, Subject: "api_key:bench", Rate: 1 << 30, Period: time.Minute},
	}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !l.Allow(ctx, limits).Allowed {
				b.Fatal("refused")
			}
		}
	})
}

// BenchmarkCacheHit is one query-cache hit (HGET + version GET, pipelined, JSON decode).
func BenchmarkCacheHit(b *testing.B) {
	url := os.Getenv("CODITECT_TEST_REDIS_URL")
	if url == "" {
		b.Skip("CODITECT_TEST_REDIS_URL is not set")
	}
	c, err := redis.Open(url)
	require.NoError(b, err)
	defer c.Close()
	cache := redis.NewCache(c, redis.NewMetrics(nil), nil)
	tenant := coditect.NewID[coditect.TenantID]()
	ctx := context.Background()
	var v map[string]string
	st, _ := cache.Get(ctx, tenant, redis.CacheQuery, "bench", time.Minute, &v)
	cache.Fill(ctx, st, time.Minute, map[string]string{"plan": "business", "role": "member"})
	b.RunParallel(func(pb *testing.PB) {
		var v map[string]string
		for pb.Next() {
			if _, hit := cache.Get(ctx, tenant, redis.CacheQuery, "bench", time.Minute, &v); !hit {
				b.Fatal("miss")
			}
		}
	})
}
