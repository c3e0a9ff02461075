package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// EnsureRoles creates, as a superuser, the login roles a private server needs: owner
// (owns the schema, runs migrations) and app (the application: owns nothing, cannot
// bypass RLS). Roles are cluster-wide, so concurrent callers serialize on a lock.
func EnsureRoles(ctx context.Context, conn *pgx.Conn, owner, app string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7041992002)"); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7041992002)") //nolint:errcheck
	own, appID := pgx.Identifier{owner}.Sanitize(), pgx.Identifier{app}.Sanitize()
	for _, stmt := range []string{
		`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '` + owner + `') THEN
			CREATE ROLE ` + own + ` LOGIN CREATEROLE; END IF; END $$`,
		`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '` + app + `') THEN
			CREATE ROLE ` + appID + ` LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$`,
		// A migration may have created the app role as a NOLOGIN group role first.
		`ALTER ROLE ` + appID + ` LOGIN`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
