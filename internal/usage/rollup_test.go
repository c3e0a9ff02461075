package usage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// record writes calls for tenant at h, as a flush would.
func (f fixture) record(t *testing.T, tenant coditect.TenantID, h time.Time, calls int64) {
	t.Helper()
	require.NoError(t, f.store.UsageRecord(coditect.WithActor(context.Background(), coditect.SystemActor(tenant)), h, calls))
}

// TestRollup rolls five tenants up, two to a page: every hour before the current one
// moves into its day with exact sums and is deleted, the current hour stays, and a
// second run changes nothing.
func TestRollup(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tenants := []coditect.TenantID{f.a.id, f.b.id}
	for _, slug := range []string{"tenant-c", "tenant-d", "tenant-e"} {
		tenants = append(tenants, newOrg(t, f.store, slug).id)
	}
	now := hour(11, 2).Add(20 * time.Minute)
	for i, tenant := range tenants {
		n := int64(i + 1)
		f.record(t, tenant, hour(10, 0), n)
		f.record(t, tenant, hour(10, 23), 10*n)
		f.record(t, tenant, hour(11, 1), 100*n)
		f.record(t, tenant, hour(11, 2), 1000*n) // the current hour
	}

	res, err := usage.Rollup(context.Background(), f.store, now, 2)
	require.NoError(t, err)
	require.Equal(t, usage.RollupResult{Tenants: 5, Rolled: usage.Rolled{Hours: 15, Days: 10, APICalls: 111 * 15}}, res)
	for i, tenant := range tenants {
		n := int64(i + 1)
		rows := f.rows(t, tenant)
		require.Equal(t, map[time.Time]int64{day(10): 11 * n, day(11): 100 * n}, rows.daily)
		require.Equal(t, map[time.Time]int64{hour(11, 2): 1000 * n}, rows.hourly, "the current hour is not rolled up")
		require.True(t, rows.pending, "a tenant with an hour left stays on the work list")
	}

	t.Run("a second run changes nothing", func(t *testing.T) {
		before := map[coditect.TenantID]tables{}
		for _, tenant := range tenants {
			before[tenant] = f.rows(t, tenant)
		}
		res, err := usage.Rollup(context.Background(), f.store, now, 2)
		require.NoError(t, err)
		require.Zero(t, res, "no tenant has an hour before the current one")
		for _, tenant := range tenants {
			require.Equal(t, before[tenant], f.rows(t, tenant))
		}
	})
	t.Run("the next hour rolls up the rest and empties the work list", func(t *testing.T) {
		res, err := usage.Rollup(context.Background(), f.store, now.Add(time.Hour), 2)
		require.NoError(t, err)
		require.Equal(t, 5, res.Tenants)
		for i, tenant := range tenants {
			n := int64(i + 1)
			rows := f.rows(t, tenant)
			require.Equal(t, tables{hourly: map[time.Time]int64{}, daily: map[time.Time]int64{day(10): 11 * n, day(11): 1100 * n}}, rows)
		}
		require.Zero(t, f.count(t, "SELECT 1 FROM usage_pending"))
	})
}

// brokenRollup fails one tenant's roll-up the way a real failure does: after part of
// the work, which the store's transaction rolls back (see
// TestStoreUsageRollupFailureLeavesRowsUntouched for the database side).
type brokenRollup struct {
	usage.RollupStore
	tenant coditect.TenantID
}

func (s brokenRollup) UsageRollup(ctx context.Context, before time.Time) (usage.Rolled, error) {
	if tenant, _ := coditect.TenantFrom(ctx); tenant == s.tenant {
		return usage.Rolled{}, errors.New("injected fault")
	}
	return s.RollupStore.UsageRollup(ctx, before)
}

// TestRollupCarriesOnPastAFailingTenant: one tenant's failure leaves its rows as they
// were and fails the run (so the job retries) after the other tenants are done; the
// retry rolls up only that tenant, and every call is counted once.
func TestRollupCarriesOnPastAFailingTenant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := newOrg(t, f.store, "tenant-c")
	for _, tenant := range []coditect.TenantID{f.a.id, f.b.id, c.id} {
		f.record(t, tenant, hour(10, 5), 3)
		f.record(t, tenant, hour(10, 6), 4)
	}
	beforeB := f.rows(t, f.b.id)
	now := hour(12, 0)

	res, err := usage.Rollup(context.Background(), brokenRollup{RollupStore: f.store, tenant: f.b.id}, now, 1)
	require.ErrorContains(t, err, "roll-up failed for 1 of 3 tenants")
	require.ErrorContains(t, err, "injected fault")
	require.Equal(t, usage.RollupResult{Tenants: 2, Failed: 1, Rolled: usage.Rolled{Hours: 4, Days: 2, APICalls: 14}}, res)
	require.Equal(t, beforeB, f.rows(t, f.b.id), "the failed tenant's rows are untouched")
	for _, tenant := range []coditect.TenantID{f.a.id, c.id} {
		require.Equal(t, tables{hourly: map[time.Time]int64{}, daily: map[time.Time]int64{day(10): 7}}, f.rows(t, tenant))
	}

	res, err = usage.Rollup(context.Background(), f.store, now, 1)
	require.NoError(t, err)
	require.Equal(t, usage.RollupResult{Tenants: 1, Rolled: usage.Rolled{Hours: 2, Days: 1, APICalls: 7}}, res, "the retry finds only B")
	for _, tenant := range []coditect.TenantID{f.a.id, f.b.id, c.id} {
		require.Equal(t, tables{hourly: map[time.Time]int64{}, daily: map[time.Time]int64{day(10): 7}}, f.rows(t, tenant))
	}
}

// TestRollupStopsWhenCancelled: a cancelled run stops without touching anything more.
func TestRollupStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.record(t, f.a.id, hour(10, 5), 3)
	before := f.rows(t, f.a.id)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := usage.Rollup(ctx, f.store, hour(12, 0), 0)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, before, f.rows(t, f.a.id))
}
