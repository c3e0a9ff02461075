package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// TestStorePlatformStats: the business numbers add up over every tenant (the app role
// could not count other tenants' rows in tenant tables), are kept by the sign-up and
// flush transactions, and old activity marks are purged.
func TestStorePlatformStats(t *testing.T) {
	t.Parallel()
	bn := setup(t) // two sign-ups: tenants A and B
	ctx := context.Background()
	long := time.Now().Add(-time.Hour)

	got, err := bn.store.PlatformStats(ctx, long)
	require.NoError(t, err)
	require.Equal(t, usage.PlatformStats{Tenants: 2, ActiveTenants: 0, Signups: 2, APICalls: 0}, got)

	record(t, bn, bn.a, usageHour(10, 22), 5)
	record(t, bn, bn.a, usageHour(10, 23), 3)
	record(t, bn, bn.b, usageHour(10, 22), 100)
	got, err = bn.store.PlatformStats(ctx, long)
	require.NoError(t, err)
	require.Equal(t, usage.PlatformStats{Tenants: 2, ActiveTenants: 2, Signups: 2, APICalls: 108}, got, "sums across tenants, each tenant active once")

	got, err = bn.store.PlatformStats(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, got.ActiveTenants, "activity older than the window does not count")

	t.Run("a failed flush adds nothing", func(t *testing.T) {
		gone := coditect.WithActor(context.Background(), coditect.SystemActor(coditect.NewID[coditect.TenantID]()))
		require.Error(t, bn.store.UsageRecord(gone, usageHour(10, 22), 7), "no such organization")
		got, err := bn.store.PlatformStats(ctx, long)
		require.NoError(t, err)
		require.Equal(t, int64(108), got.APICalls)
		require.Equal(t, int64(2), got.ActiveTenants)
	})

	t.Run("purge", func(t *testing.T) {
		n, err := bn.store.SystemPurgeTenantActivity(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "recent marks stay")
		n, err = bn.store.SystemPurgeTenantActivity(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		got, err := bn.store.PlatformStats(ctx, time.Time{})
		require.NoError(t, err)
		require.Zero(t, got.ActiveTenants)
		require.Equal(t, int64(108), got.APICalls, "the sums are kept")
	})
}
