package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLocalAllowsTheBurstThenOneRequestPerInterval(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := ratelimit.NewLocal(c.now)
	lim := []ratelimit.Limit{{Scope: ratelimit.ScopeIP, Subject: "192.0.2.1", Rate: 3, Period: 3 * time.Second}}
	for i := 2; i >= 0; i-- {
		d := l.Allow(context.Background(), lim)
		require.True(t, d.Allowed)
		require.Equal(t, i, d.Remaining)
		require.True(t, d.Local)
	}
	d := l.Allow(context.Background(), lim)
	require.False(t, d.Allowed)
	require.Equal(t, 0, d.Remaining)
	require.Equal(t, time.Second, d.RetryAfter)
	require.Equal(t, 3*time.Second, d.Reset)

	c.t = c.t.Add(time.Second) // one interval later, one request is back
	d = l.Allow(context.Background(), lim)
	require.True(t, d.Allowed)
	require.False(t, l.Allow(context.Background(), lim).Allowed)

	c.t = c.t.Add(time.Hour) // a long pause refills the burst, no more
	d = l.Allow(context.Background(), lim)
	require.True(t, d.Allowed)
	require.Equal(t, 2, d.Remaining)
}

func TestLocalRefusedRequestDrawsFromNoBucket(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := ratelimit.NewLocal(c.now)
	tenant := coditect.NewID[coditect.TenantID]()
	small := ratelimit.Limit{Scope: ratelimit.ScopePrincipal, Tenant: tenant, Subject: "key-1", Rate: 1, Period: time.Minute}
	big := ratelimit.Limit{Scope: ratelimit.ScopeTenant, Tenant: tenant, Rate: 10, Period: time.Minute}
	d := l.Allow(context.Background(), []ratelimit.Limit{big, small})
	require.True(t, d.Allowed)
	require.Equal(t, ratelimit.ScopePrincipal, d.Limit.Scope, "the tightest limit describes the answer")
	for range 5 {
		d = l.Allow(context.Background(), []ratelimit.Limit{big, small})
		require.False(t, d.Allowed)
		require.Equal(t, ratelimit.ScopePrincipal, d.Limit.Scope)
	}
	// The refusals took nothing from the tenant's budget: another principal has 9 left.
	other := ratelimit.Limit{Scope: ratelimit.ScopePrincipal, Tenant: tenant, Subject: "key-2", Rate: 100, Period: time.Minute}
	d = l.Allow(context.Background(), []ratelimit.Limit{big, other})
	require.True(t, d.Allowed)
	require.Equal(t, 8, d.Remaining)
	require.Equal(t, ratelimit.ScopeTenant, d.Limit.Scope)
}

func TestLocalKeepsTenantsApart(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(nil)
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	la := []ratelimit.Limit{{Scope: ratelimit.ScopeTenant, Tenant: a, Rate: 1, Period: time.Hour}}
	lb := []ratelimit.Limit{{Scope: ratelimit.ScopeTenant, Tenant: b, Rate: 1, Period: time.Hour}}
	require.True(t, l.Allow(context.Background(), la).Allowed)
	require.False(t, l.Allow(context.Background(), la).Allowed)
	require.True(t, l.Allow(context.Background(), lb).Allowed, "tenant A's use costs tenant B nothing")
}
