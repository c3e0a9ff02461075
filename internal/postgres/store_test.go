package postgres_test

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

// bundle is what every store test starts from: a fresh database with two tenants,
// A and B, each with an owner account.
type bundle struct {
	store  *postgres.Store
	db     postgrestest.DB
	a, b   context.Context // contexts scoped to tenant A and tenant B
	ownerA coditect.AccountID
	ownerB coditect.AccountID
}

func setup(t *testing.T) bundle { return setupBench(t) }

// setupBench builds the bundle for tests and benchmarks alike.
func setupBench(t testing.TB) bundle {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	bn := bundle{store: store, db: db}
	bn.a, bn.ownerA = newTenant(t, store, "tenant-a")
	bn.b, bn.ownerB = newTenant(t, store, "tenant-b")
	return bn
}

// newTenant signs up an owner and an organization the way onboarding does: one
// transaction scoped to the new tenant.
func newTenant(t testing.TB, store *postgres.Store, slug string) (context.Context, coditect.AccountID) {
	t.Helper()
	tenant := coditect.NewID[coditect.TenantID]()
	owner := coditect.NewID[coditect.AccountID]()
	ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: owner, Tenant: tenant, Role: coditect.RoleOwner})
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
	return ctx, owner
}

func createWorkspace(t testing.TB, bn bundle, ctx context.Context, name string) work.Workspace {
	t.Helper()
	var w work.Workspace
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) (err error) {
		w, err = tx.WorkspaceCreate(ctx, work.Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: name})
		return err
	})
	require.NoError(t, err)
	return w
}

func createProject(t *testing.T, bn bundle, ctx context.Context, ws coditect.WorkspaceID, name string) work.Project {
	t.Helper()
	var p work.Project
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) (err error) {
		p, err = tx.ProjectCreate(ctx, work.Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: ws, Name: name})
		return err
	})
	require.NoError(t, err)
	return p
}

func createTask(t *testing.T, bn bundle, ctx context.Context, p coditect.ProjectID, title string) work.Task {
	t.Helper()
	var out work.Task
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) (err error) {
		out, err = tx.TaskCreate(ctx, work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: p, Title: title, Status: work.TaskTodo})
		return err
	})
	require.NoError(t, err)
	return out
}

func requireNotFound(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, coditect.IsNotFound(err), "want not found, got %v", err)
}

func TestStoreWorkspaces(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	w := createWorkspace(t, bn, bn.a, "Alpha")

	got, err := bn.store.WorkspaceGet(bn.a, w.ID)
	require.NoError(t, err)
	require.Equal(t, "Alpha", got.Name)
	list, err := bn.store.WorkspaceList(bn.a, work.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)

	err = bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
		_, err := tx.WorkspaceUpdate(bn.a, work.Workspace{ID: w.ID, Name: "Alpha 2"})
		return err
	})
	require.NoError(t, err)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.WorkspaceGet(bn.b, w.ID)
		requireNotFound(t, err)
		list, err := bn.store.WorkspaceList(bn.b, work.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.WorkspaceUpdate(bn.b, work.Workspace{ID: w.ID, Name: "hijacked"})
			return err
		})
		requireNotFound(t, err)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error { return tx.WorkspaceDelete(bn.b, w.ID) })
		requireNotFound(t, err)
		got, err := bn.store.WorkspaceGet(bn.a, w.ID)
		require.NoError(t, err)
		require.Equal(t, "Alpha 2", got.Name, "tenant B's attempts changed nothing")
	})

	err = bn.store.InTx(bn.a, func(tx *postgres.Tx) error { return tx.WorkspaceDelete(bn.a, w.ID) })
	require.NoError(t, err)
	_, err = bn.store.WorkspaceGet(bn.a, w.ID)
	requireNotFound(t, err)
}

func TestStoreProjects(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	wa := createWorkspace(t, bn, bn.a, "WA")
	wa2 := createWorkspace(t, bn, bn.a, "WA2")
	wb := createWorkspace(t, bn, bn.b, "WB")
	p := createProject(t, bn, bn.a, wa.ID, "P1")
	createProject(t, bn, bn.a, wa2.ID, "P2")

	list, err := bn.store.ProjectList(bn.a, work.ProjectFilter{WorkspaceID: &wa.ID}, work.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = bn.store.ProjectList(bn.a, work.ProjectFilter{}, work.Page{})
	require.NoError(t, err)
	require.Len(t, list, 2)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.ProjectGet(bn.b, p.ID)
		requireNotFound(t, err)
		list, err := bn.store.ProjectList(bn.b, work.ProjectFilter{}, work.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = bn.store.ProjectList(bn.b, work.ProjectFilter{WorkspaceID: &wa.ID}, work.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.ProjectUpdate(bn.b, work.Project{ID: p.ID, Name: "x"})
			return err
		})
		requireNotFound(t, err)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error { return tx.ProjectDelete(bn.b, p.ID) })
		requireNotFound(t, err)
	})
	t.Run("cannot attach to another tenant's workspace", func(t *testing.T) {
		err := bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.ProjectCreate(bn.b, work.Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: wa.ID, Name: "sneaky"})
			return err
		})
		requireNotFound(t, err)
		_ = wb
	})
	got, err := bn.store.ProjectGet(bn.a, p.ID)
	require.NoError(t, err)
	require.Equal(t, "P1", got.Name)

	// Deleting a workspace takes its projects with it: no orphans.
	err = bn.store.InTx(bn.a, func(tx *postgres.Tx) error { return tx.WorkspaceDelete(bn.a, wa.ID) })
	require.NoError(t, err)
	_, err = bn.store.ProjectGet(bn.a, p.ID)
	requireNotFound(t, err)
}

func TestStoreTasks(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	w := createWorkspace(t, bn, bn.a, "W")
	p := createProject(t, bn, bn.a, w.ID, "P")
	task := createTask(t, bn, bn.a, p.ID, "T1")
	createTask(t, bn, bn.a, p.ID, "T2")

	// Assign T1 to the owner and mark it in progress.
	task.AssigneeID = &bn.ownerA
	task.Status = work.TaskInProgress
	err := bn.store.InTx(bn.a, func(tx *postgres.Tx) (err error) {
		task, err = tx.TaskUpdate(bn.a, task)
		return err
	})
	require.NoError(t, err)
	st := work.TaskInProgress
	list, err := bn.store.TaskList(bn.a, work.TaskFilter{ProjectID: p.ID, Status: &st}, work.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = bn.store.TaskList(bn.a, work.TaskFilter{ProjectID: p.ID, AssigneeID: &bn.ownerA}, work.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)

	t.Run("assignee must be a member of the tenant", func(t *testing.T) {
		err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
			_, err := tx.TaskUpdate(bn.a, work.Task{ID: task.ID, Title: "T1", Status: work.TaskTodo, AssigneeID: &bn.ownerB})
			return err
		})
		requireNotFound(t, err)
	})
	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.TaskGet(bn.b, task.ID)
		requireNotFound(t, err)
		list, err := bn.store.TaskList(bn.b, work.TaskFilter{ProjectID: p.ID}, work.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.TaskUpdate(bn.b, work.Task{ID: task.ID, Title: "x", Status: work.TaskDone})
			return err
		})
		requireNotFound(t, err)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error { return tx.TaskDelete(bn.b, task.ID) })
		requireNotFound(t, err)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.TaskCreate(bn.b, work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: p.ID, Title: "x", Status: work.TaskTodo})
			return err
		})
		requireNotFound(t, err)
	})
	got, err := bn.store.TaskGet(bn.a, task.ID)
	require.NoError(t, err)
	require.Equal(t, work.TaskInProgress, got.Status)

	err = bn.store.InTx(bn.a, func(tx *postgres.Tx) error { return tx.TaskDelete(bn.a, task.ID) })
	require.NoError(t, err)
	_, err = bn.store.TaskGet(bn.a, task.ID)
	requireNotFound(t, err)
}

func TestStorePagination(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	for i := range 5 {
		createWorkspace(t, bn, bn.a, string(rune('a'+i)))
	}
	var seen []string
	page := work.Page{Limit: 2}
	for {
		list, err := bn.store.WorkspaceList(bn.a, page)
		require.NoError(t, err)
		for _, w := range list {
			seen = append(seen, w.Name)
		}
		if len(list) < page.Limit {
			break
		}
		last := list[len(list)-1]
		page.CreatedAt, page.ID = last.CreatedAt, last.ID.Bytes()
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, seen)
}

func TestStoreOrganizationAndMembership(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	orgA, err := bn.store.OrganizationGet(bn.a)
	require.NoError(t, err)
	require.Equal(t, "tenant-a", orgA.Slug)
	m, err := bn.store.MembershipGet(bn.a, bn.ownerA)
	require.NoError(t, err)
	require.Equal(t, coditect.RoleOwner, m.Role)

	id, err := bn.store.TenantBySlug(context.Background(), "tenant-a")
	require.NoError(t, err)
	require.Equal(t, orgA.ID, id)
	id, err = bn.store.TenantByDomain(context.Background(), "tenant-a.coditect.test")
	require.NoError(t, err)
	require.Equal(t, orgA.ID, id)
	_, err = bn.store.TenantBySlug(context.Background(), "nope")
	requireNotFound(t, err)

	acc, err := bn.store.AccountByEmail(context.Background(), "tenant-a@example.com")
	require.NoError(t, err)
	require.Equal(t, bn.ownerA, acc.ID)
	ms, err := bn.store.AccountMemberships(context.Background(), bn.ownerA)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, orgA.ID, ms[0].Tenant)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.MembershipGet(bn.b, bn.ownerA)
		requireNotFound(t, err)
		orgB, err := bn.store.OrganizationGet(bn.b)
		require.NoError(t, err)
		require.NotEqual(t, orgA.ID, orgB.ID)
		require.Equal(t, "tenant-b", orgB.Slug)
	})
	t.Run("slug, domain and email are unique across tenants", func(t *testing.T) {
		tenant := coditect.NewID[coditect.TenantID]()
		ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorSystem, Tenant: tenant, Role: coditect.RoleOwner})
		err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: "tenant-a", Name: "dup"}, "x.coditect.test")
			return err
		})
		require.Equal(t, coditect.Code("organization.slug_taken"), coditect.ErrorCode(err))
		err = bn.store.InTx(ctx, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: "fresh-slug", Name: "dup"}, "tenant-a.coditect.test")
			return err
		})
		require.Equal(t, coditect.Code("organization.domain_taken"), coditect.ErrorCode(err))
		err = bn.store.InTx(ctx, func(tx *postgres.Tx) error {
			return tx.AccountCreate(ctx, account.Account{ID: coditect.NewID[coditect.AccountID](), Email: "tenant-a@example.com", Name: "x", PasswordHash: "x"})
		})
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		// Nothing of the failed attempts remains.
		_, err = bn.store.TenantBySlug(context.Background(), "fresh-slug")
		requireNotFound(t, err)
	})
}

func TestStoreAuditLog(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	actor := bn.ownerA.Bytes()
	for _, action := range []string{"workspace.create", "workspace.update"} {
		err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
			return tx.AuditLogInsert(bn.a, audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: coditect.ActorAccount, ActorID: &actor,
				Action: action, TargetType: "workspace", TargetID: "w1", Changes: json.RawMessage(`{"name":"x"}`)})
		})
		require.NoError(t, err)
	}
	list, err := bn.store.AuditLogList(bn.a, 10, time.Time{}, [16]byte{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "workspace.update", list[0].Action, "newest first")
	require.Equal(t, actor, *list[0].ActorID)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		list, err := bn.store.AuditLogList(bn.b, 10, time.Time{}, [16]byte{})
		require.NoError(t, err)
		require.Empty(t, list)
	})
	t.Run("append-only in the database", func(t *testing.T) {
		ctx := context.Background()
		orgA, err := bn.store.OrganizationGet(bn.a)
		require.NoError(t, err)
		conn := appConn(t, bn)
		for _, stmt := range []string{"UPDATE audit_logs SET action = 'x'", "DELETE FROM audit_logs", "TRUNCATE audit_logs"} {
			tx, err := conn.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, "SET LOCAL app.tenant_id = '"+orgA.ID.String()+"'")
			require.NoError(t, err)
			_, err = tx.Exec(ctx, stmt)
			require.ErrorContains(t, err, "permission denied", stmt)
			require.NoError(t, tx.Rollback(ctx))
		}
		list, err := bn.store.AuditLogList(bn.a, 10, time.Time{}, [16]byte{})
		require.NoError(t, err)
		require.Len(t, list, 2)
	})
}

func TestStoreIdempotencyKeys(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	claim := func(ctx context.Context, key string, expires time.Time) bool {
		var ok bool
		err := bn.store.InTx(ctx, func(tx *postgres.Tx) (err error) {
			ok, err = tx.IdempotencyKeyClaim(ctx, "acct", key, []byte("h"), expires)
			return err
		})
		require.NoError(t, err)
		return ok
	}
	require.True(t, claim(bn.a, "k1", time.Now().Add(time.Hour)))
	require.False(t, claim(bn.a, "k1", time.Now().Add(time.Hour)), "a live claim is not claimed twice")
	err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error { return tx.IdempotencyKeyComplete(bn.a, "acct", "k1", 201, []byte(`{}`)) })
	require.NoError(t, err)
	rec, err := bn.store.IdempotencyKeyGet(bn.a, "acct", "k1")
	require.NoError(t, err)
	require.EqualValues(t, 201, *rec.Status)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.IdempotencyKeyGet(bn.b, "acct", "k1")
		requireNotFound(t, err)
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error { return tx.IdempotencyKeyComplete(bn.b, "acct", "k1", 500, nil) })
		requireNotFound(t, err)
		require.True(t, claim(bn.b, "k1", time.Now().Add(time.Hour)), "the same key is independent per tenant")
		rec, err := bn.store.IdempotencyKeyGet(bn.a, "acct", "k1")
		require.NoError(t, err)
		require.EqualValues(t, 201, *rec.Status, "tenant A's record is untouched")
	})

	t.Run("purge removes only expired keys, across tenants", func(t *testing.T) {
		require.True(t, claim(bn.a, "old-a", time.Now().Add(-time.Minute)))
		require.True(t, claim(bn.b, "old-b", time.Now().Add(-time.Minute)))
		n, err := bn.store.SystemPurgeExpiredIdempotencyKeys(context.Background())
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		_, err = bn.store.IdempotencyKeyGet(bn.a, "acct", "k1")
		require.NoError(t, err, "live keys stay")
	})
	t.Run("expired rows are invisible without the maintenance setting", func(t *testing.T) {
		require.True(t, claim(bn.b, "old-b2", time.Now().Add(-time.Minute)))
		conn := appConn(t, bn)
		var n int
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM idempotency_keys").Scan(&n))
		require.Zero(t, n)
		tag, err := conn.Exec(context.Background(), "DELETE FROM idempotency_keys")
		require.NoError(t, err)
		require.Zero(t, tag.RowsAffected())
	})
}

func TestStoreEmailTokensPurge(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := postgrestest.Pool(t, bn.db.AdminURL)
	_, err := admin.Exec(context.Background(), `INSERT INTO email_tokens (token_hash, account_id, purpose, email, expires_at, used_at) VALUES
		('a', $1, 'verify_email', 'x@example.com', now() - interval '1 minute', NULL),
		('b', $1, 'password_reset', 'x@example.com', now() + interval '1 hour', now() - interval '2 days'),
		('c', $1, 'verify_email', 'x@example.com', now() + interval '1 hour', NULL)`, bn.ownerA.String())
	require.NoError(t, err)
	n, err := bn.store.SystemPurgeExpiredEmailTokens(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "expired and long-used tokens go")
	var left int
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM email_tokens").Scan(&left))
	require.Equal(t, 1, left, "a live token stays")
}

func TestStoreSessionsPurge(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := postgrestest.Pool(t, bn.db.AdminURL)
	_, err := admin.Exec(context.Background(), `INSERT INTO sessions (account_id, id, refresh_hash, expires_at) VALUES
		($1, gen_random_uuid(), 'x', now() - interval '1 minute'), ($1, gen_random_uuid(), 'y', now() + interval '1 day')`, bn.ownerA.String())
	require.NoError(t, err)
	n, err := bn.store.SystemPurgeExpiredSessions(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var left int
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM sessions").Scan(&left))
	require.Equal(t, 1, left)
}

// appConn is a raw connection as the application role, for statements the store
// would never send.
func appConn(t *testing.T, bn bundle) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), bn.db.AppURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestRowLevelSecurityBackstop(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	createWorkspace(t, bn, bn.a, "A1")
	createWorkspace(t, bn, bn.a, "A2")
	createWorkspace(t, bn, bn.b, "B1")
	orgB, err := bn.store.OrganizationGet(bn.b)
	require.NoError(t, err)
	conn := appConn(t, bn)
	ctx := context.Background()

	t.Run("a statement without the tenant filter sees only the current tenant", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		_, err = tx.Exec(ctx, "SET LOCAL app.tenant_id = '"+orgB.ID.String()+"'")
		require.NoError(t, err)
		var names []string
		rows, err := tx.Query(ctx, "SELECT name FROM workspaces ORDER BY name")
		require.NoError(t, err)
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Equal(t, []string{"B1"}, names)
		var orgs int
		require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM organizations").Scan(&orgs))
		require.Equal(t, 1, orgs)
		tag, err := tx.Exec(ctx, "UPDATE workspaces SET name = 'pwned'")
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected(), "only B's own row")
	})
	t.Run("no tenant setting: no rows, no error", func(t *testing.T) {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM workspaces").Scan(&n))
		require.Zero(t, n)
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM organizations").Scan(&n))
		require.Zero(t, n)
	})
	t.Run("cannot write a row for another tenant", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		_, err = tx.Exec(ctx, "SET LOCAL app.tenant_id = '"+orgB.ID.String()+"'")
		require.NoError(t, err)
		orgA, err := bn.store.OrganizationGet(bn.a)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "INSERT INTO workspaces (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'x')", orgA.ID.String())
		require.ErrorContains(t, err, "row-level security")
	})
	t.Run("the setting does not outlive its transaction", func(t *testing.T) {
		_, err := bn.store.WorkspaceList(bn.a, work.Page{})
		require.NoError(t, err)
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM workspaces").Scan(&n))
		require.Zero(t, n)
	})
}

func TestNoTenantFailsClosed(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	w := createWorkspace(t, bn, bn.a, "A1")
	for name, ctx := range map[string]context.Context{
		"no actor":             context.Background(),
		"actor without tenant": coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: bn.ownerA}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := bn.store.WorkspaceGet(ctx, w.ID)
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
			_, err = bn.store.WorkspaceList(ctx, work.Page{})
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
			called := false
			err = bn.store.InTx(ctx, func(*postgres.Tx) error { called = true; return nil })
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
			require.False(t, called, "no transaction without a tenant")
		})
	}
}

// countingDialer counts writes to the server socket: each pipelined batch is one
// write, so the count is the number of round trips a call makes.
type countingDialer struct{ writes atomic.Int64 }

type countingConn struct {
	net.Conn
	d *countingDialer
}

func (c countingConn) Write(b []byte) (int, error) {
	c.d.writes.Add(1)
	return c.Conn.Write(b)
}

func TestTenantReadIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	w := createWorkspace(t, bn, bn.a, "A1")
	cfg, err := pgxpool.ParseConfig(bn.db.AppURL)
	require.NoError(t, err)
	d := &countingDialer{}
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{c, d}, err
	}
	cfg.MinConns, cfg.MaxConns = 1, 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store, err := postgres.NewStore(pool)
	require.NoError(t, err)
	update := func() error {
		return store.InTx(bn.a, func(tx *postgres.Tx) error {
			_, err := tx.WorkspaceUpdate(bn.a, work.Workspace{ID: w.ID, Name: "A1"})
			return err
		})
	}
	// Warm up: connect, and let pgx prepare and cache each statement once (a first use
	// costs one extra round trip for Parse/Describe; steady state is what we measure).
	_, err = store.WorkspaceGet(bn.a, w.ID)
	require.NoError(t, err)
	_, err = store.WorkspaceList(bn.a, work.Page{})
	require.NoError(t, err)
	require.NoError(t, update())

	before := d.writes.Load()
	got, err := store.WorkspaceGet(bn.a, w.ID)
	require.NoError(t, err)
	require.Equal(t, "A1", got.Name)
	require.EqualValues(t, 1, d.writes.Load()-before, "BEGIN, SET LOCAL, SELECT and COMMIT in one round trip")

	before = d.writes.Load()
	_, err = store.WorkspaceList(bn.a, work.Page{})
	require.NoError(t, err)
	require.EqualValues(t, 1, d.writes.Load()-before)

	before = d.writes.Load()
	require.NoError(t, update())
	require.EqualValues(t, 2, d.writes.Load()-before, "BEGIN+SET LOCAL+UPDATE, then COMMIT")
}

// rawPool is a pool as the superuser on the bundle's database, for baselines that
// bypass the store.
func rawPool(t testing.TB, bn bundle) *pgxpool.Pool { return postgrestest.Pool(t, bn.db.AdminURL) }

func tenantOf(t testing.TB, bn bundle, ctx context.Context) string {
	t.Helper()
	org, err := bn.store.OrganizationGet(ctx)
	require.NoError(t, err)
	return org.ID.String()
}
