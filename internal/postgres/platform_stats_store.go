package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
	"github.com/coditect/coditect/internal/usage"
)

// Platform-wide business numbers (migration 0020): sums kept in global tables by the
// transactions that already run (sign-up, usage flush), read by the periodic gauges.

var _ usage.PlatformReader = (*Store)(nil)

// statsShard spreads a tenant's additions over the 16 rows of an hour.
func statsShard(t uuid.UUID) int16 { return int16(t[15] % 16) }

// addPlatformStats adds to the current hour's sums in the transaction.
func (tx *Tx) addPlatformStats(ctx context.Context, hour time.Time, signups, calls int64) error {
	return tx.q.PlatformStatsAdd(ctx, dbsqlc.PlatformStatsAddParams{Hour: hour, Shard: statsShard(tenantUID(tx.tenant)),
		Signups: signups, ApiCalls: calls})
}

// PlatformStats reads the platform-wide numbers: organizations, organizations with
// an API call since activeSince, and all sign-ups and API calls recorded.
func (s *Store) PlatformStats(ctx context.Context, activeSince time.Time) (usage.PlatformStats, error) {
	var out usage.PlatformStats
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.PlatformStatsRead(ctx, activeSince)
		out = usage.PlatformStats{Tenants: r.Tenants, ActiveTenants: r.ActiveTenants, Signups: r.Signups, APICalls: r.ApiCalls}
		return err
	})
	return out, dbError(err, "platform stats")
}

// SystemPurgeTenantActivity deletes activity marks older than before (the gauges look
// back one day), which also drops an erased organization's mark.
func (s *Store) SystemPurgeTenantActivity(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		n, err = q.TenantActivityPurge(ctx, before)
		return err
	})
	return n, dbError(err, "tenant activity")
}
