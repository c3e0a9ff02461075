package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/usage"
)

// usageHour is an hour of a fixed day, so the tests never depend on the clock.
func usageHour(day, hour int) time.Time {
	return time.Date(2026, time.March, day, hour, 0, 0, 0, time.UTC)
}

func usageDay(day int) time.Time { return time.Date(2026, time.March, day, 0, 0, 0, 0, time.UTC) }

// usageRows is a tenant's usage tables as the superuser sees them.
type usageRows struct {
	Hourly  map[time.Time]int64
	Daily   map[time.Time]int64
	Pending *time.Time // the work-list row's since; nil when absent
}

func readUsageRows(t testing.TB, admin *pgxpool.Pool, tenant coditect.TenantID) usageRows {
	t.Helper()
	ctx := context.Background()
	out := usageRows{Hourly: map[time.Time]int64{}, Daily: map[time.Time]int64{}}
	collect := func(sql string, into map[time.Time]int64) {
		rows, err := admin.Query(ctx, sql, tenant.String())
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var at time.Time
			var n int64
			require.NoError(t, rows.Scan(&at, &n))
			into[at.UTC()] = n
		}
		require.NoError(t, rows.Err())
	}
	collect("SELECT hour, api_calls FROM usage_hourly WHERE tenant_id = $1", out.Hourly)
	collect("SELECT day::timestamp AT TIME ZONE 'UTC', api_calls FROM usage_daily WHERE tenant_id = $1", out.Daily)
	var since time.Time
	err := admin.QueryRow(ctx, "SELECT since FROM usage_pending WHERE organization_id = $1", tenant.String()).Scan(&since)
	if err != pgx.ErrNoRows {
		require.NoError(t, err)
		since = since.UTC()
		out.Pending = &since
	}
	return out
}

func record(t *testing.T, bn bundle, ctx context.Context, hour time.Time, calls int64) {
	t.Helper()
	require.NoError(t, bn.store.UsageRecord(ctx, hour, calls))
}

func ptr[T any](v T) *T { return &v }

func TestStoreUsage(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	ta, tb := coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.a))), coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.b)))

	record(t, bn, bn.a, usageHour(10, 22), 5)
	record(t, bn, bn.a, usageHour(10, 22), 3) // a second flush of the same hour adds
	record(t, bn, bn.a, usageHour(10, 23), 10)
	record(t, bn, bn.a, usageHour(11, 0), 7)
	record(t, bn, bn.a, usageHour(11, 5), 1)
	record(t, bn, bn.b, usageHour(10, 22), 100)

	rows := readUsageRows(t, admin, ta)
	require.Equal(t, map[time.Time]int64{usageHour(10, 22): 8, usageHour(10, 23): 10, usageHour(11, 0): 7, usageHour(11, 5): 1}, rows.Hourly)
	require.Empty(t, rows.Daily)
	require.Equal(t, ptr(usageHour(10, 22)), rows.Pending, "the work list keeps the oldest hour flushed")

	days, err := bn.store.UsageDays(bn.a, usageDay(10), usageDay(12))
	require.NoError(t, err)
	require.Equal(t, []usage.Day{{Date: usageDay(10), APICalls: 18}, {Date: usageDay(11), APICalls: 8}}, days, "hours not rolled up count")
	days, err = bn.store.UsageDays(bn.a, usageDay(11), usageDay(12))
	require.NoError(t, err)
	require.Equal(t, []usage.Day{{Date: usageDay(11), APICalls: 8}}, days, "the range is [since, until)")

	pending, err := bn.store.SystemUsagePending(context.Background(), usageHour(11, 5), coditect.TenantID{}, 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []coditect.TenantID{ta, tb}, pending)

	// Roll up everything before 05:00 on the 11th.
	r, err := bn.store.UsageRollup(bn.a, usageHour(11, 5))
	require.NoError(t, err)
	require.Equal(t, usage.Rolled{Hours: 3, Days: 2, APICalls: 25}, r)
	rows = readUsageRows(t, admin, ta)
	require.Equal(t, map[time.Time]int64{usageHour(11, 5): 1}, rows.Hourly, "the rolled-up hours are deleted")
	require.Equal(t, map[time.Time]int64{usageDay(10): 18, usageDay(11): 7}, rows.Daily)
	require.Equal(t, ptr(usageHour(11, 5)), rows.Pending, "since moves to the oldest hour left")
	days, err = bn.store.UsageDays(bn.a, usageDay(10), usageDay(12))
	require.NoError(t, err)
	require.Equal(t, []usage.Day{{Date: usageDay(10), APICalls: 18}, {Date: usageDay(11), APICalls: 8}}, days, "the read is unchanged by a roll-up")

	t.Run("rolling up again changes nothing", func(t *testing.T) {
		before := readUsageRows(t, admin, ta)
		r, err := bn.store.UsageRollup(bn.a, usageHour(11, 5))
		require.NoError(t, err)
		require.Zero(t, r)
		require.Equal(t, before, readUsageRows(t, admin, ta))
		pending, err := bn.store.SystemUsagePending(context.Background(), usageHour(11, 5), coditect.TenantID{}, 10)
		require.NoError(t, err)
		require.Equal(t, []coditect.TenantID{tb}, pending, "A has nothing before 05:00 left")
	})

	t.Run("a late flush of a rolled-up hour is added to its day", func(t *testing.T) {
		record(t, bn, bn.a, usageHour(10, 23), 2)
		days, err := bn.store.UsageDays(bn.a, usageDay(10), usageDay(11))
		require.NoError(t, err)
		require.Equal(t, []usage.Day{{Date: usageDay(10), APICalls: 20}}, days)
		r, err := bn.store.UsageRollup(bn.a, usageHour(11, 5))
		require.NoError(t, err)
		require.Equal(t, usage.Rolled{Hours: 1, Days: 1, APICalls: 2}, r)
		rows := readUsageRows(t, admin, ta)
		require.Equal(t, map[time.Time]int64{usageDay(10): 20, usageDay(11): 7}, rows.Daily)
		require.Equal(t, ptr(usageHour(11, 5)), rows.Pending)
	})

	t.Run("rolling up the last hour takes the tenant off the work list", func(t *testing.T) {
		r, err := bn.store.UsageRollup(bn.a, usageHour(11, 6))
		require.NoError(t, err)
		require.Equal(t, usage.Rolled{Hours: 1, Days: 1, APICalls: 1}, r)
		rows := readUsageRows(t, admin, ta)
		require.Empty(t, rows.Hourly)
		require.Equal(t, map[time.Time]int64{usageDay(10): 20, usageDay(11): 8}, rows.Daily)
		require.Nil(t, rows.Pending)
	})

	t.Run("paging", func(t *testing.T) {
		// B is the only one before 06:00 now; a page of one, then an empty one after it.
		page, err := bn.store.SystemUsagePending(context.Background(), usageHour(11, 6), coditect.TenantID{}, 1)
		require.NoError(t, err)
		require.Equal(t, []coditect.TenantID{tb}, page)
		page, err = bn.store.SystemUsagePending(context.Background(), usageHour(11, 6), tb, 1)
		require.NoError(t, err)
		require.Empty(t, page)
		_, err = bn.store.SystemUsagePending(context.Background(), usageHour(11, 6), coditect.TenantID{}, 0)
		require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err))
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		beforeA := readUsageRows(t, admin, ta)
		days, err := bn.store.UsageDays(bn.b, usageDay(1), usageDay(31))
		require.NoError(t, err)
		require.Equal(t, []usage.Day{{Date: usageDay(10), APICalls: 100}}, days, "B reads only its own calls")
		r, err := bn.store.UsageRollup(bn.b, usageHour(12, 0))
		require.NoError(t, err)
		require.Equal(t, usage.Rolled{Hours: 1, Days: 1, APICalls: 100}, r, "B's roll-up moves only B's hour")
		record(t, bn, bn.b, usageHour(10, 23), 1)
		require.Equal(t, beforeA, readUsageRows(t, admin, ta), "tenant A's rows are untouched")
		require.Equal(t, map[time.Time]int64{usageDay(10): 100}, readUsageRows(t, admin, tb).Daily)
	})

	t.Run("row-level security hides the rows without a tenant", func(t *testing.T) {
		conn := appConn(t, bn)
		for _, table := range []string{"usage_hourly", "usage_daily"} {
			var n int
			require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
			require.Zero(t, n, table)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		err := bn.store.UsageRecord(bn.a, usageHour(10, 22).Add(time.Minute), 1)
		require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err), "not the start of an hour")
		_, err = bn.store.UsageRollup(bn.a, usageHour(10, 22).Add(time.Second))
		require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err))
		require.NoError(t, bn.store.UsageRecord(bn.a, usageHour(10, 22), 0), "nothing to record is a no-op")
		for _, ctx := range []context.Context{context.Background(), coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: bn.ownerA})} {
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(bn.store.UsageRecord(ctx, usageHour(10, 22), 1)))
			_, err = bn.store.UsageDays(ctx, usageDay(1), usageDay(2))
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
			_, err = bn.store.UsageRollup(ctx, usageHour(10, 0))
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
		}
	})

	t.Run("an organization that does not exist is not found and leaves nothing", func(t *testing.T) {
		gone := coditect.NewID[coditect.TenantID]()
		err := bn.store.UsageRecord(coditect.WithActor(context.Background(), coditect.SystemActor(gone)), usageHour(10, 22), 1)
		requireNotFound(t, err)
		require.Equal(t, usageRows{Hourly: map[time.Time]int64{}, Daily: map[time.Time]int64{}}, readUsageRows(t, admin, gone),
			"the work-list row went with the failed transaction")
	})
}

// TestStoreUsageRollupFailureLeavesRowsUntouched breaks one tenant's roll-up in its
// last step, after the hours were moved into days inside the transaction: the whole
// transaction rolls back, so the tenant's hours, days and work-list row are exactly as
// before (no half roll-up that a retry could count twice), and the next roll-up, once
// the fault is gone, counts every call once.
func TestStoreUsageRollupFailureLeavesRowsUntouched(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	ta := coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.a)))
	record(t, bn, bn.a, usageHour(10, 1), 4)
	record(t, bn, bn.a, usageHour(10, 2), 6)
	record(t, bn, bn.a, usageHour(11, 3), 1)
	_, err := bn.store.UsageRollup(bn.a, usageHour(10, 2)) // a day already rolled up in part
	require.NoError(t, err)
	before := readUsageRows(t, admin, ta)
	require.Equal(t, map[time.Time]int64{usageDay(10): 4}, before.Daily)

	// The fault: settling A's work-list row (step 4 of UsageRollup) raises.
	ctx := context.Background()
	_, err = admin.Exec(ctx, `CREATE FUNCTION usage_fault() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected fault'; END $$`)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `CREATE TRIGGER usage_fault BEFORE UPDATE OR DELETE ON usage_pending
		FOR EACH ROW WHEN (OLD.organization_id = '`+ta.String()+`') EXECUTE FUNCTION usage_fault()`)
	require.NoError(t, err)

	_, err = bn.store.UsageRollup(bn.a, usageHour(12, 0))
	require.ErrorContains(t, err, "injected fault")
	require.Equal(t, before, readUsageRows(t, admin, ta), "nothing of the failed roll-up remains")

	_, err = admin.Exec(ctx, "DROP TRIGGER usage_fault ON usage_pending")
	require.NoError(t, err)
	r, err := bn.store.UsageRollup(bn.a, usageHour(12, 0))
	require.NoError(t, err)
	require.Equal(t, usage.Rolled{Hours: 2, Days: 2, APICalls: 7}, r)
	after := readUsageRows(t, admin, ta)
	require.Equal(t, map[time.Time]int64{usageDay(10): 10, usageDay(11): 1}, after.Daily)
	require.Empty(t, after.Hourly)
	require.Nil(t, after.Pending)
}

// Compile-time check: the store is what the usage feature needs.
var (
	_ usage.Recorder    = (*postgres.Store)(nil)
	_ usage.Reader      = (*postgres.Store)(nil)
	_ usage.RollupStore = (*postgres.Store)(nil)
)
