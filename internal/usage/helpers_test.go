package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

// fixture is a fresh database with organizations A and B.
type fixture struct {
	store *postgres.Store
	admin *pgxpool.Pool // superuser: sees every tenant's rows
	a, b  org
}

// org is one organization and contexts of every role in it.
type org struct {
	id                           coditect.TenantID
	owner, admin, member, viewer context.Context
}

func setup(t *testing.T) fixture {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	return fixture{store: store, admin: postgrestest.Pool(t, db.AdminURL), a: newOrg(t, store, "tenant-a"), b: newOrg(t, store, "tenant-b")}
}

func newOrg(t *testing.T, store *postgres.Store, slug string) org {
	t.Helper()
	tenant := coditect.NewID[coditect.TenantID]()
	owner := coditect.NewID[coditect.AccountID]()
	as := func(role coditect.Role) context.Context {
		return coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: owner, Tenant: tenant, Role: role})
	}
	ctx := as(coditect.RoleOwner)
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(ctx, account.Account{ID: owner, Email: slug + "@example.com", Name: slug, PasswordHash: "x"}); err != nil {
			return err
		}
		if _, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: slug, Name: slug}, slug+".coditect.test"); err != nil {
			return err
		}
		return tx.MembershipCreate(ctx, owner, coditect.RoleOwner)
	})
	require.NoError(t, err)
	return org{id: tenant, owner: ctx, admin: as(coditect.RoleAdmin), member: as(coditect.RoleMember), viewer: as(coditect.RoleViewer)}
}

// hour is an hour of a fixed day in March 2026, so tests never depend on the clock.
func hour(day, h int) time.Time { return time.Date(2026, time.March, day, h, 0, 0, 0, time.UTC) }

func day(d int) time.Time { return time.Date(2026, time.March, d, 0, 0, 0, 0, time.UTC) }

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// tables is what the superuser sees of one tenant's usage.
type tables struct {
	hourly, daily map[time.Time]int64
	pending       bool
}

func (f fixture) rows(t *testing.T, tenant coditect.TenantID) tables {
	t.Helper()
	ctx := context.Background()
	out := tables{hourly: map[time.Time]int64{}, daily: map[time.Time]int64{}}
	collect := func(sql string, into map[time.Time]int64) {
		rows, err := f.admin.Query(ctx, sql, tenant.String())
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
	collect("SELECT hour, api_calls FROM usage_hourly WHERE tenant_id = $1", out.hourly)
	collect("SELECT day::timestamp AT TIME ZONE 'UTC', api_calls FROM usage_daily WHERE tenant_id = $1", out.daily)
	require.NoError(t, f.admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM usage_pending WHERE organization_id = $1)", tenant.String()).Scan(&out.pending))
	return out
}

// total sums a tenant's calls in both tables.
func (f fixture) total(t *testing.T, tenant coditect.TenantID) int64 {
	t.Helper()
	var n int64
	require.NoError(t, f.admin.QueryRow(context.Background(), `SELECT COALESCE((SELECT sum(api_calls) FROM usage_hourly WHERE tenant_id = $1), 0)
		+ COALESCE((SELECT sum(api_calls) FROM usage_daily WHERE tenant_id = $1), 0)`, tenant.String()).Scan(&n))
	return n
}

// count returns how many rows sql (one $1 parameter or none) finds.
func (f fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	rows, err := f.admin.Query(context.Background(), sql, args...)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Err())
	return n
}
