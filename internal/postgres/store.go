// Package postgres is the only package that runs SQL. It owns the connection pool, the
// migrations, the sqlc-generated queries (private, in internal/dbsqlc) and the
// tenant-scoped transactions every tenant statement runs in.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// Store runs the platform's queries on a pgx pool as the application role.
type Store struct {
	pool    *pgxpool.Pool
	jobs    *river.Client[pgx.Tx] // insert-only: enqueues jobs inside store transactions
	onWrite func(ctx context.Context, t coditect.TenantID)
}

// OnTenantWrite makes fn run after every write transaction in a tenant commits, with
// that tenant: the caches drop the tenant's entries there, so that no write, whoever
// makes it, can leave a stale cached read behind. Set it once, before the store is
// used.
func (s *Store) OnTenantWrite(fn func(ctx context.Context, t coditect.TenantID)) { s.onWrite = fn }

// NewStore returns a Store over pool. The pool must connect as the application role.
func NewStore(pool *pgxpool.Pool) (*Store, error) {
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool, jobs: jobs}, nil
}

// Connect opens a pool for url and checks it can reach the server. It refuses a role
// that bypasses row-level security (a superuser or BYPASSRLS), because the RLS
// backstop would then be silently off. A tracer, if given, sees every statement
// (telemetry.PgxTracer: one span per statement and per pipelined batch).
func Connect(ctx context.Context, url string, maxConns int32, tracer ...pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if len(tracer) > 0 && tracer[0] != nil {
		cfg.ConnConfig.Tracer = tracer[0]
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var super, bypass bool
	err = pool.QueryRow(ctx, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&super, &bypass)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if super || bypass {
		pool.Close()
		return nil, errors.New("DATABASE_URL: the application role must not be a superuser or have BYPASSRLS " +
			"(row-level security would not apply); connect as a role that is a member of coditect_app")
	}
	// An owner could ALTER TABLE … DISABLE ROW LEVEL SECURITY: the app must own nothing.
	var owns bool
	err = pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'USAGE'))`).Scan(&owns)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if owns {
		pool.Close()
		return nil, errors.New("DATABASE_URL: the application role owns (or is a member of the owner of) the schema's tables, " +
			"so it could turn row-level security off; run migrations as a separate owner role (DATABASE_OWNER_URL) " +
			"and connect as a role that is a member of coditect_app")
	}
	return pool, nil
}

// Ping checks the database answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// inTx runs fn in one transaction with sc's settings, committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, sc scope, fn func(*pipeTx) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Release()
	tx := &pipeTx{conn: conn, scope: sc}
	// Rolls back on error or panic; a no-op after a successful commit. Uses a context
	// that outlives cancellation so the connection goes back clean.
	defer tx.rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.commit(ctx); err != nil {
		return err
	}
	if s.onWrite != nil && !sc.readOnly && !sc.quiet && !sc.tenant.IsZero() && tx.sent {
		s.onWrite(ctx, sc.tenant)
	}
	return nil
}

// read runs exactly one read statement in the context's tenant: BEGIN READ ONLY, SET
// LOCAL app.tenant_id, the statement and COMMIT travel in one round trip.
// fn gets the tenant to bind as $1: every statement also says tenant_id = $1.
func (s *Store) read(ctx context.Context, fn func(q *dbsqlc.Queries, tenant uuid.UUID) error) error {
	sc, err := tenantScope(ctx)
	if err != nil {
		return err
	}
	sc.readOnly, sc.single = true, true
	return s.inTx(ctx, sc, func(tx *pipeTx) error { return fn(dbsqlc.New(tx), uuid.UUID(sc.tenant)) })
}

// global runs fn outside any tenant, for tables that are not tenant tables (accounts,
// lookups, sessions). Tenant tables stay invisible: RLS sees no app.tenant_id.
func (s *Store) global(ctx context.Context, fn func(*dbsqlc.Queries) error) error {
	return s.inTx(ctx, scope{}, func(tx *pipeTx) error { return fn(dbsqlc.New(tx)) })
}

// dbError turns driver errors into coditect errors: no rows → not found, constraint
// violations → conflict or invalid, connection trouble → unavailable.
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	var ce *coditect.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &coditect.Error{Code: coditect.CodeNotFound, Message: what + " not found"}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return &coditect.Error{Code: coditect.CodeConflict, Message: what + " already exists", Err: err}
		case "23503": // foreign_key_violation: the referenced row is not in this tenant
			return &coditect.Error{Code: coditect.CodeNotFound, Message: "a referenced resource was not found", Err: err}
		case "23514", "22001", "22P02": // check_violation, string too long, bad text
			return &coditect.Error{Code: coditect.CodeInvalid, Message: "a value is out of range", Err: err}
		case "42501": // insufficient_privilege, including an RLS WITH CHECK failure
			return &coditect.Error{Code: coditect.CodeNotFound, Message: what + " not found", Err: err}
		}
		return &coditect.Error{Code: coditect.CodeInternal, Message: "database error", Err: err}
	}
	var ne net.Error
	var cerr *pgconn.ConnectError
	if errors.As(err, &cerr) || errors.As(err, &ne) || pgconn.SafeToRetry(err) {
		return unavailable(err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &coditect.Error{Code: coditect.CodeInternal, Message: "database error", Err: err}
}

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &coditect.Error{Code: coditect.CodeUnavailable, Message: "the database is unavailable", Err: err}
}
