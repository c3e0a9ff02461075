package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
	"github.com/coditect/coditect/internal/usage"
)

// Usage metering (internal/usage): the meter's flush into usage_hourly, the roll-up
// into usage_daily, the tenant's read of both, and the eraser's steps. See migration
// 0010 for the tables and the locking between flush and roll-up.

var (
	_ usage.Recorder    = (*Store)(nil)
	_ usage.Reader      = (*Store)(nil)
	_ usage.RollupStore = (*Store)(nil)
)

// UsageRecord adds calls to the context tenant's row of hour in usage_hourly and marks
// the tenant on the roll-up's work list (and in the platform-wide stats), in one transaction: the work-list row first,
// so that its lock orders the flush with a roll-up of the tenant. hour must be the
// start of a UTC hour. Not found when the organization does not exist (any more).
func (s *Store) UsageRecord(ctx context.Context, hour time.Time, calls int64) error {
	if calls <= 0 {
		return nil
	}
	if !hour.Equal(usage.Hour(hour)) {
		return coditect.Errorf(coditect.CodeInvalid, "usage hour %s is not the start of a UTC hour", hour)
	}
	err := s.quietTx(ctx, func(tx *Tx) error {
		t := tenantUID(tx.tenant)
		if err := tx.q.UsagePendingMark(ctx, dbsqlc.UsagePendingMarkParams{OrganizationID: t, Since: hour}); err != nil {
			return err
		}
		if err := tx.q.UsageHourlyAdd(ctx, dbsqlc.UsageHourlyAddParams{TenantID: t, Hour: hour, ApiCalls: calls}); err != nil {
			return err
		}
		// The platform-wide sums and activity behind the business gauges, in the same
		// transaction (see migration 0020).
		if err := tx.addPlatformStats(ctx, hour, 0, calls); err != nil {
			return err
		}
		return tx.q.TenantActivityMark(ctx, dbsqlc.TenantActivityMarkParams{OrganizationID: t, At: time.Now()})
	})
	return dbError(err, "organization")
}

// UsageDays returns the context tenant's calls per UTC day in [since, until): the
// rolled-up days and the hours not rolled up yet, folded into their days, read in one
// statement (one snapshot), oldest first.
func (s *Store) UsageDays(ctx context.Context, since, until time.Time) ([]usage.Day, error) {
	var out []usage.Day
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.UsageDays(ctx, dbsqlc.UsageDaysParams{TenantID: tenant, Since: since, Until: until})
		if err != nil {
			return err
		}
		out = make([]usage.Day, len(rows))
		for i, r := range rows {
			out[i] = usage.Day{Date: r.Day.UTC(), APICalls: r.ApiCalls}
		}
		return nil
	})
	return out, dbError(err, "usage")
}

// SystemUsagePending pages through the roll-up's work list: the organizations with
// hourly rows older than before, in id order after after. usage_pending is keyed by
// organization_id, not a tenant table; on Citus the page is a fan-out, once per page
// of an hourly job.
func (s *Store) SystemUsagePending(ctx context.Context, before time.Time, after coditect.TenantID, limit int) ([]coditect.TenantID, error) {
	if limit <= 0 || limit > 10000 {
		return nil, coditect.Errorf(coditect.CodeInvalid, "usage page must be 1 to 10000 tenants")
	}
	var out []coditect.TenantID
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		ids, err := q.UsagePendingPage(ctx, dbsqlc.UsagePendingPageParams{Before: before, After: tenantUID(after), Batch: int32(limit)})
		if err != nil {
			return err
		}
		out = make([]coditect.TenantID, len(ids))
		for i, id := range ids {
			out[i] = coditect.TenantID(id)
		}
		return nil
	})
	return out, dbError(err, "usage")
}

// UsageRollup moves the context tenant's hours before before (a UTC hour start) into
// usage_daily, in one transaction:
//
//  1. lock the organization row FOR KEY SHARE (the order the eraser takes too);
//  2. lock the tenant's work-list row (upserting it, as a flush does), so no flush of
//     the tenant runs meanwhile;
//  3. delete the hours and add them to their days, in one statement (the rows added
//     are exactly the rows deleted);
//  4. settle the work-list row: gone when no hour is left, else since = the oldest.
//
// Any failure rolls all of it back: the tenant's rows stay as they were. Running it
// again moves only what arrived since, so it never counts a call twice.
func (s *Store) UsageRollup(ctx context.Context, before time.Time) (usage.Rolled, error) {
	if !before.Equal(usage.Hour(before)) {
		return usage.Rolled{}, coditect.Errorf(coditect.CodeInvalid, "usage roll-up bound %s is not the start of a UTC hour", before)
	}
	var out usage.Rolled
	err := s.quietTx(ctx, func(tx *Tx) error {
		t := tenantUID(tx.tenant)
		if _, err := tx.q.UsageOrganizationShare(ctx, t); err != nil {
			return err
		}
		if err := tx.q.UsagePendingLock(ctx, dbsqlc.UsagePendingLockParams{OrganizationID: t, Since: before}); err != nil {
			return err
		}
		r, err := tx.q.UsageRollupHours(ctx, dbsqlc.UsageRollupHoursParams{TenantID: t, Before: before})
		if err != nil {
			return err
		}
		out = usage.Rolled{Hours: r.Hours, Days: r.Days, APICalls: r.ApiCalls}
		left, err := tx.q.UsageHourlyOldest(ctx, t)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return tx.q.UsagePendingDelete(ctx, t)
		}
		return tx.q.UsagePendingSet(ctx, dbsqlc.UsagePendingSetParams{OrganizationID: t, Since: left[0]})
	})
	if err != nil {
		return usage.Rolled{}, dbError(err, "usage")
	}
	return out, nil
}

// eraseUsageHourly and eraseUsageDaily are the eraser's steps for the usage tables.
// The tenant's usage_pending row is left to the next roll-up, which finds nothing to
// move and deletes it.
func eraseUsageHourly(ctx context.Context, r eraseRun) (map[string]int64, error) {
	n, err := r.q.EraseUsageHourly(ctx, dbsqlc.EraseUsageHourlyParams{TenantID: r.tenant, Batch: r.limit})
	return one("usage_hourly", n, err)
}

func eraseUsageDaily(ctx context.Context, r eraseRun) (map[string]int64, error) {
	n, err := r.q.EraseUsageDaily(ctx, dbsqlc.EraseUsageDailyParams{TenantID: r.tenant, Batch: r.limit})
	return one("usage_daily", n, err)
}
