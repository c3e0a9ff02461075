package postgres_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

func tables(t *testing.T, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	db := postgrestest.New(t) // already migrated from the template
	ctx := context.Background()
	var logs []string
	m, err := postgres.NewMigrator(ctx, db.OwnerURL, func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })
	require.NoError(t, err)
	t.Cleanup(func() { m.Close(ctx) })

	full := tables(t, db.AdminURL)
	require.Contains(t, full, "river_job")
	require.Contains(t, full, "tasks")

	states, rv, rl, err := m.Status(ctx)
	require.NoError(t, err)
	for _, s := range states {
		require.NotNil(t, s.AppliedAt, "migration %d applied", s.Version)
	}
	require.Equal(t, rl, rv, "River fully migrated")

	require.NoError(t, m.Up(ctx), "up is idempotent")

	require.NoError(t, m.Down(ctx, 0, true))
	require.Empty(t, tables(t, db.AdminURL), "down --all leaves an empty schema")

	require.NoError(t, m.Up(ctx))
	require.Equal(t, full, tables(t, db.AdminURL), "up again restores the same tables")
	var indexed bool
	admin := postgrestest.Pool(t, db.AdminURL)
	require.NoError(t, admin.QueryRow(ctx, "SELECT to_regclass('river_job_tenant_backlog') IS NOT NULL").Scan(&indexed))
	require.True(t, indexed, "River's tables exist before later migrations index them")

	// One step down reverts only the newest platform migration.
	all, err := postgres.Migrations()
	require.NoError(t, err)
	require.NoError(t, m.Down(ctx, 1, false))
	states, _, _, err = m.Status(ctx)
	require.NoError(t, err)
	require.Nil(t, states[len(states)-1].AppliedAt)
	require.Equal(t, len(all), len(states))
	require.NoError(t, m.Up(ctx))
}

// TestSchemaFollowsCitusRules checks the migrated schema against the manifest and the
// rules in ARCHITECTURE.md, so a new table or key cannot quietly break distribution.
func TestSchemaFollowsCitusRules(t *testing.T) {
	t.Parallel()
	db := postgrestest.New(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.AdminURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })

	manifest := map[string]postgres.Table{}
	var names []string
	for _, tb := range postgres.Manifest() {
		manifest[tb.Name] = tb
		names = append(names, tb.Name)
	}
	sort.Strings(names)
	require.Equal(t, names, tables(t, db.AdminURL), "the manifest lists exactly the schema's tables")

	for _, tb := range postgres.Manifest() {
		t.Run(tb.Name, func(t *testing.T) {
			if tb.Class == postgres.CoordinatorLocal || tb.Class == postgres.Reference {
				return
			}
			var identity int
			require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
				WHERE table_schema = 'public' AND table_name = $1 AND is_identity = 'YES'`, tb.Name).Scan(&identity))
			require.Zero(t, identity, "no identity columns: Citus resets them when distributing")

			// Every primary key and unique constraint includes the distribution column.
			rows, err := conn.Query(ctx, `SELECT c.conname, c.contype::text, array_agg(a.attname::text)
				FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
				WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u', 'f')
				GROUP BY c.conname, c.contype`, tb.Name)
			require.NoError(t, err)
			type con struct {
				name, typ string
				cols      []string
			}
			cons, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (con, error) {
				var c con
				err := r.Scan(&c.name, &c.typ, &c.cols)
				return c, err
			})
			require.NoError(t, err)
			var pk bool
			for _, c := range cons {
				pk = pk || c.typ == "p"
				if c.typ == "f" && tb.Class == postgres.DistributedByKey {
					continue // FKs between key-distributed tables are checked by co-location below
				}
				require.Contains(t, c.cols, tb.Column, "%s %s must include %s", c.typ, c.name, tb.Column)
			}
			require.True(t, pk, "has a primary key")

			if tb.Class == postgres.DistributedByTenant {
				var enabled, forced bool
				require.NoError(t, conn.QueryRow(ctx, "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
					tb.Name).Scan(&enabled, &forced))
				require.True(t, enabled, "RLS enabled")
				require.True(t, forced, "RLS forced (applies to the owner too)")
				var policy string
				require.NoError(t, conn.QueryRow(ctx, `SELECT pg_get_expr(polqual, polrelid) FROM pg_policy
					WHERE polrelid = $1::regclass AND polname = 'tenant_isolation'`, tb.Name).Scan(&policy))
				require.Contains(t, policy, "NULLIF(current_setting('app.tenant_id'::text, true), ''::text)")
			}
		})
	}
}
