package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
	"github.com/coditect/coditect/internal/worker"
)

// flakyRollup fails the first roll-up of one tenant, as a lost connection would.
type flakyRollup struct {
	usage.RollupStore
	tenant coditect.TenantID
	failed atomic.Bool
}

func (s *flakyRollup) UsageRollup(ctx context.Context, before time.Time) (usage.Rolled, error) {
	if tenant, _ := coditect.TenantFrom(ctx); tenant == s.tenant && s.failed.CompareAndSwap(false, true) {
		return usage.Rolled{}, errors.New("injected fault")
	}
	return s.RollupStore.UsageRollup(ctx, before)
}

// TestUsageRollupJob schedules the roll-up as cmd/coditect does (a system job, every
// hour, run on start): its first attempt fails for one tenant after rolling up the
// other, the retry rolls up the rest, and every call is in its day exactly once.
func TestUsageRollupJob(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	other, _ := newOrg(t, bn.store, "other", false)
	otherID, err := coditect.TenantFrom(other)
	require.NoError(t, err)
	at := func(h int) time.Time { return time.Date(2026, time.March, 10, h, 0, 0, 0, time.UTC) }
	for _, ctx := range []context.Context{bn.ctx, other} {
		require.NoError(t, bn.store.UsageRecord(ctx, at(1), 5))
		require.NoError(t, bn.store.UsageRecord(ctx, at(2), 6))
		require.NoError(t, bn.store.UsageRecord(ctx, at(12), 100)) // the job's current hour
	}

	store := &flakyRollup{RollupStore: bn.store, tenant: otherID}
	reg := worker.NewRegistry()
	worker.AddSystem(reg, &worker.UsageRollupWorker{Store: store, Batch: 1, Now: func() time.Time { return at(12).Add(5 * time.Minute) }, Log: quiet()})
	reg.Every(time.Hour, worker.UsageRollup)
	runWorker(t, newWorker(t, bn.pool, reg, worker.Config{}), 5*time.Second)

	require.Eventually(t, func() bool { return jobCount(t, bn, worker.KindUsageRollup, "completed") == 1 }, 60*time.Second, 50*time.Millisecond)
	require.True(t, store.failed.Load(), "the first attempt failed")
	var attempts int
	require.NoError(t, bn.admin.QueryRow(context.Background(), "SELECT attempt FROM river_job WHERE kind = $1", worker.KindUsageRollup).Scan(&attempts))
	require.Equal(t, 2, attempts)

	for _, tenant := range []coditect.TenantID{bn.tenant, otherID} {
		var daily, hourly int64
		require.NoError(t, bn.admin.QueryRow(context.Background(), "SELECT api_calls FROM usage_daily WHERE tenant_id = $1 AND day = '2026-03-10'",
			tenant.String()).Scan(&daily))
		require.EqualValues(t, 11, daily, "the hours before the current one, once")
		require.NoError(t, bn.admin.QueryRow(context.Background(), "SELECT sum(api_calls) FROM usage_hourly WHERE tenant_id = $1",
			tenant.String()).Scan(&hourly))
		require.EqualValues(t, 100, hourly, "the current hour stays")
	}
}

var _ usage.RollupStore = (*flakyRollup)(nil)
