package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

// noopJob is a tenant job that is only ever enqueued, never run.
type noopJob struct {
	coditect.TenantJob
}

func (noopJob) Kind() string { return "test.noop" }

// eraseFixture is what populate created in one tenant.
type eraseFixture struct {
	tenant coditect.TenantID
	member coditect.AccountID
	keyID  coditect.APIKeyID
	prefix string
	invID  coditect.InvitationID
}

// populate gives the tenant of ctx a row in every table that can hold its data: a
// second member, work (with an assigned task), an invitation, an API key, an OAuth
// client with a stored request, an idempotency key, audit rows, a queued job, an
// export, metered usage (an hour and a rolled-up day) and a Stripe customer with a
// subscription.
func populate(t *testing.T, bn bundle, ctx context.Context, owner coditect.AccountID, tag string) eraseFixture {
	t.Helper()
	f := eraseFixture{tenant: coditect.TenantID(uuidOf(t, tenantOf(t, bn, ctx))), member: coditect.NewID[coditect.AccountID]()}
	f.keyID, f.invID = coditect.NewID[coditect.APIKeyID](), coditect.NewID[coditect.InvitationID]()
	_, f.prefix, _ = account.NewAPIKeySecret()
	actor := owner.Bytes()
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(ctx, account.Account{ID: f.member, Email: tag + "-member@example.com", Name: "m", PasswordHash: "x"}); err != nil {
			return err
		}
		if err := tx.MembershipCreate(ctx, f.member, coditect.RoleMember); err != nil {
			return err
		}
		ws, err := tx.WorkspaceCreate(ctx, work.Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: "W"})
		if err != nil {
			return err
		}
		p, err := tx.ProjectCreate(ctx, work.Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: ws.ID, Name: "P"})
		if err != nil {
			return err
		}
		for i := range 5 {
			task := work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: p.ID, Title: fmt.Sprint("T", i), Status: work.TaskTodo}
			if i == 0 {
				task.AssigneeID = &f.member
			}
			if _, err := tx.TaskCreate(ctx, task); err != nil {
				return err
			}
		}
		if err := tx.InvitationCreate(ctx, account.Invitation{ID: f.invID, Email: tag + "-invitee@example.com", Role: coditect.RoleMember,
			TokenHash: account.HashSecret(tag + "-token"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.APIKeyCreate(ctx, account.APIKey{ID: f.keyID, Name: "k", Prefix: f.prefix, SecretHash: []byte("h"), Role: coditect.RoleAdmin}); err != nil {
			return err
		}
		for i := range 3 {
			if err := tx.AuditLogInsert(ctx, audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: coditect.ActorAccount, ActorID: &actor,
				Action: fmt.Sprint("test.", i)}); err != nil {
				return err
			}
		}
		return tx.Enqueue(ctx, &noopJob{})
	})
	require.NoError(t, err)
	// OAuth and idempotency rows as the superuser: their own tests cover their store
	// methods; here they only have to exist.
	admin := rawPool(t, bn)
	clientID := tag + "-client"
	_, err = admin.Exec(context.Background(), `WITH c AS (
			INSERT INTO oauth_clients (tenant_id, id, client_id, name, secret_hash, grant_types) VALUES ($1, gen_random_uuid(), $2, 'c', 'h', '{client_credentials}')
			RETURNING tenant_id, id, client_id)
		INSERT INTO oauth_client_ids (client_id, tenant_id, client_uuid) SELECT client_id, tenant_id, id FROM c`, f.tenant.String(), clientID)
	require.NoError(t, err)
	_, err = admin.Exec(context.Background(), `INSERT INTO oauth_requests (signature, kind, request_id, client_id, tenant_id, request, requested_at)
		VALUES ($1, 'refresh_token', 'r', $2, $3, '{}', now())`, tag+"-sig", clientID, f.tenant.String())
	require.NoError(t, err)
	_, err = admin.Exec(context.Background(), `INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, expires_at)
		VALUES ($1, 'p', 'k', 'h', now() + interval '1 hour')`, f.tenant.String())
	require.NoError(t, err)
	_, err = admin.Exec(context.Background(), `INSERT INTO exports (tenant_id, id, status) VALUES ($1, gen_random_uuid(), 'completed')`, f.tenant.String())
	require.NoError(t, err)
	// Usage: two metered hours, the first rolled up into its day.
	hour := time.Date(2026, time.March, 10, 9, 0, 0, 0, time.UTC)
	require.NoError(t, bn.store.UsageRecord(ctx, hour, 3))
	require.NoError(t, bn.store.UsageRecord(ctx, hour.Add(time.Hour), 4))
	_, err = bn.store.UsageRollup(ctx, hour.Add(time.Hour))
	require.NoError(t, err)
	// Billing: a Stripe customer (with its global lookup) and a subscription.
	require.NoError(t, postgres.BillingStore{Store: bn.store}.InBillingTx(ctx, func(tx billing.Tx) error {
		if _, err := tx.CustomerSave(ctx, "cus_"+tag); err != nil {
			return err
		}
		_, err := tx.SubscriptionPut(ctx, billing.SubscriptionRow{Subscription: billing.Subscription{StripeSubscriptionID: "sub_" + tag,
			Plan: "pro", Status: "active", Quantity: 2, StateAt: hour, StateRank: 1}})
		return err
	}))
	return f
}

func uuidOf(t testing.TB, s string) [16]byte {
	t.Helper()
	id, err := coditect.ParseID[coditect.TenantID](s)
	require.NoError(t, err)
	return id
}

// tenantRows counts, as the superuser, the tenant's rows in every table the eraser
// covers (organizations by id, river_job by the tenant in its arguments).
func tenantRows(t testing.TB, admin *pgxpool.Pool, tenant coditect.TenantID) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range postgres.ErasedTables() {
		where := "tenant_id = $1::uuid"
		switch table {
		case "organizations":
			where = "id = $1::uuid"
		case "river_job":
			where = "args @> jsonb_build_object('tenant_id', $1::text)"
		}
		var n int
		require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" WHERE "+where,
			tenant.String()).Scan(&n), table)
		out[table] = n
	}
	return out
}

// deleteOrg runs the deletion's store steps in one transaction of ctx's tenant, as
// account.Service.DeleteOrganization does.
func deleteOrg(t *testing.T, bn bundle, ctx context.Context, domains ...string) {
	t.Helper()
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
		org, err := tx.OrganizationMarkDeleted(ctx)
		if err != nil {
			return err
		}
		members, index, err := tx.MembershipDeleteAll(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.APIKeyRevokeAll(ctx); err != nil {
			return err
		}
		if _, err := tx.OAuthClientRevokeAll(ctx); err != nil {
			return err
		}
		if _, err := tx.InvitationRevokeAll(ctx); err != nil {
			return err
		}
		return tx.TenantDeletionCreate(ctx, account.TenantDeletion{Slug: org.Slug, Name: org.Name, Domains: domains,
			RowsDeleted: map[string]int64{"memberships": members, "account_memberships": index}})
	})
	require.NoError(t, err)
}

// eraseAll calls EraseTenantBatch until done and returns how many calls it took.
func eraseAll(t *testing.T, store *postgres.Store, ctx context.Context, limit int) int {
	t.Helper()
	for calls := 1; calls < 10000; calls++ {
		b, err := store.EraseTenantBatch(ctx, limit)
		require.NoError(t, err)
		if b.Done {
			return calls
		}
		require.NotEmpty(t, b.Table)
		require.Positive(t, b.Rows)
		require.LessOrEqual(t, b.Rows, int64(limit))
	}
	t.Fatal("the eraser never finished")
	return 0
}

func TestStoreDeleteOrganization(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	fa := populate(t, bn, bn.a, bn.ownerA, "a")
	fb := populate(t, bn, bn.b, bn.ownerB, "b")
	beforeB := tenantRows(t, admin, fb.tenant)

	deleteOrg(t, bn, bn.a, "tenant-a.coditect.test")

	_, err := bn.store.OrganizationGet(bn.a)
	requireNotFound(t, err)
	_, err = bn.store.MembershipGet(bn.a, bn.ownerA)
	requireNotFound(t, err)
	_, err = bn.store.MembershipGet(bn.a, fa.member)
	requireNotFound(t, err)
	ms, err := bn.store.AccountMemberships(context.Background(), bn.ownerA)
	require.NoError(t, err)
	require.Empty(t, ms, "the account-keyed index follows")
	tenant, keyID, err := bn.store.APIKeyByPrefix(context.Background(), fa.prefix)
	require.NoError(t, err, "the prefix row stays until the erasure, so the key is found …")
	key, err := bn.store.APIKeyGet(coditect.WithActor(context.Background(), coditect.SystemActor(tenant)), keyID)
	require.NoError(t, err)
	require.NotNil(t, key.RevokedAt, "… and seen revoked")
	invs, err := bn.store.InvitationList(coditect.WithActor(context.Background(), coditect.SystemActor(fa.tenant)), account.Page{})
	require.NoError(t, err)
	require.Len(t, invs, 1)
	require.NotNil(t, invs[0].RevokedAt)
	var revoked bool
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT revoked_at IS NOT NULL FROM oauth_clients WHERE tenant_id = $1",
		fa.tenant.String()).Scan(&revoked))
	require.True(t, revoked)
	var tasksAssigned int
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM tasks WHERE tenant_id = $1 AND assignee_id IS NOT NULL",
		fa.tenant.String()).Scan(&tasksAssigned))
	require.Zero(t, tasksAssigned, "removing members unassigns their tasks")

	d, err := bn.store.TenantDeletionGet(bn.a)
	require.NoError(t, err)
	require.Equal(t, fa.tenant, d.OrganizationID)
	require.Equal(t, "tenant-a", d.Slug)
	require.Equal(t, []string{"tenant-a.coditect.test"}, d.Domains)
	require.Nil(t, d.StartedAt)
	require.Nil(t, d.CompletedAt)
	require.Equal(t, map[string]int64{"memberships": 2, "account_memberships": 2}, d.RowsDeleted)

	t.Run("deleting twice is not found", func(t *testing.T) {
		err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationMarkDeleted(bn.a)
			return err
		})
		requireNotFound(t, err)
	})
	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.TenantDeletionGet(bn.b)
		requireNotFound(t, err)
		_, err = bn.store.EraseTenantBatch(bn.b, 100)
		requireNotFound(t, err)
		_, err = bn.store.OrganizationGet(bn.b)
		require.NoError(t, err)
		_, err = bn.store.MembershipGet(bn.b, bn.ownerB)
		require.NoError(t, err)
		key, err := bn.store.APIKeyGet(bn.b, fb.keyID)
		require.NoError(t, err)
		require.Nil(t, key.RevokedAt)
		require.Equal(t, beforeB, tenantRows(t, admin, fb.tenant), "tenant B's rows are untouched")
	})
}

func TestStoreEraseTenant(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	fa := populate(t, bn, bn.a, bn.ownerA, "a")
	fb := populate(t, bn, bn.b, bn.ownerB, "b")
	beforeA := tenantRows(t, admin, fa.tenant)
	beforeB := tenantRows(t, admin, fb.tenant)
	for table, n := range beforeA {
		require.Positive(t, n, "the fixture has rows of tenant A in %s", table)
	}

	t.Run("a live tenant is never erased", func(t *testing.T) {
		_, err := bn.store.EraseTenantBatch(bn.a, 100)
		requireNotFound(t, err)
		// Even with a (forged) deletion record, an organization not marked deleted is refused.
		_, err = admin.Exec(context.Background(), "INSERT INTO tenant_deletions (organization_id, slug, name) VALUES ($1, 'x', 'x')", fb.tenant.String())
		require.NoError(t, err)
		_, err = bn.store.EraseTenantBatch(bn.b, 100)
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		_, err = admin.Exec(context.Background(), "DELETE FROM tenant_deletions WHERE organization_id = $1", fb.tenant.String())
		require.NoError(t, err)
		require.Equal(t, beforeB, tenantRows(t, admin, fb.tenant))
	})

	deleteOrg(t, bn, bn.a, "tenant-a.coditect.test")
	// A small batch makes the eraser take many transactions: one per nonempty batch
	// (5 tasks at 2 a batch alone need 3, 3 audit rows 2), plus the final one.
	calls := eraseAll(t, bn.store, bn.a, 2)
	require.GreaterOrEqual(t, calls, 14)

	after := tenantRows(t, admin, fa.tenant)
	for table, n := range after {
		require.Zero(t, n, "tenant A has rows left in %s", table)
	}
	require.Equal(t, beforeB, tenantRows(t, admin, fb.tenant), "tenant B's rows are untouched")

	d, err := bn.store.TenantDeletionGet(bn.a)
	require.NoError(t, err)
	require.NotNil(t, d.StartedAt)
	require.NotNil(t, d.CompletedAt)
	want := map[string]int64{}
	for table, n := range beforeA {
		want[table] = int64(n)
	}
	require.Equal(t, want, d.RowsDeleted, "rows_deleted counts every row the tenant had, exactly once")

	t.Run("erasing again is a no-op", func(t *testing.T) {
		b, err := bn.store.EraseTenantBatch(bn.a, 2)
		require.NoError(t, err)
		require.True(t, b.Done)
		again, err := bn.store.TenantDeletionGet(bn.a)
		require.NoError(t, err)
		require.Equal(t, d, again)
	})
	t.Run("the application cannot delete the record", func(t *testing.T) {
		_, err := appConn(t, bn).Exec(context.Background(), "DELETE FROM tenant_deletions")
		require.ErrorContains(t, err, "permission denied")
	})
	t.Run("the slug and domain are free again", func(t *testing.T) {
		_, err := bn.store.TenantBySlug(context.Background(), "tenant-a")
		requireNotFound(t, err)
		_, err = bn.store.TenantByDomain(context.Background(), "tenant-a.coditect.test")
		requireNotFound(t, err)
		tenant := coditect.NewID[coditect.TenantID]()
		ctx := coditect.WithActor(context.Background(), coditect.SystemActor(tenant))
		err = bn.store.InTx(ctx, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: "tenant-a", Name: "New A"}, "tenant-a.coditect.test")
			return err
		})
		require.NoError(t, err)
		got, err := bn.store.TenantBySlug(context.Background(), "tenant-a")
		require.NoError(t, err)
		require.Equal(t, tenant, got)
	})
	t.Run("the accounts themselves stay", func(t *testing.T) {
		_, err := bn.store.AccountGet(context.Background(), bn.ownerA)
		require.NoError(t, err)
		_, err = bn.store.AccountGet(context.Background(), fa.member)
		require.NoError(t, err)
	})
}

func TestStoreEraseTenantResumes(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	fa := populate(t, bn, bn.a, bn.ownerA, "a")
	total := tenantRows(t, admin, fa.tenant)
	deleteOrg(t, bn, bn.a, "tenant-a.coditect.test")
	beforeA := tenantRows(t, admin, fa.tenant)

	// A batch that fails rolls back whole: nothing of it is counted or deleted.
	cancelled, cancel := context.WithCancel(bn.a)
	cancel()
	_, err := bn.store.EraseTenantBatch(cancelled, 2)
	require.Error(t, err)
	require.Equal(t, beforeA, tenantRows(t, admin, fa.tenant))

	// Two batches, then "crash": the next eraser (a fresh store, as after a restart)
	// carries on from the committed state.
	for range 2 {
		b, err := bn.store.EraseTenantBatch(bn.a, 2)
		require.NoError(t, err)
		require.False(t, b.Done)
	}
	mid, err := bn.store.TenantDeletionGet(bn.a)
	require.NoError(t, err)
	require.NotNil(t, mid.StartedAt)
	require.Nil(t, mid.CompletedAt)
	var sum int64
	for _, n := range mid.RowsDeleted {
		sum += n
	}
	require.Greater(t, sum, int64(4), "the record counts the committed batches beyond the 4 memberships rows of the deletion")

	restarted, err := postgres.NewStore(postgrestest.Pool(t, bn.db.AppURL))
	require.NoError(t, err)
	eraseAll(t, restarted, bn.a, 3)
	for table, n := range tenantRows(t, admin, fa.tenant) {
		require.Zero(t, n, table)
	}
	d, err := bn.store.TenantDeletionGet(bn.a)
	require.NoError(t, err)
	require.NotNil(t, d.CompletedAt)
	require.Equal(t, mid.StartedAt, d.StartedAt, "started_at is the first start")
	for table, n := range total {
		require.EqualValues(t, n, d.RowsDeleted[table], table)
	}
}

// TestEraserCoversEveryTenantTable fails when a table that can hold a tenant's rows is
// not erased: every DistributedByTenant table of the manifest and every table with a
// tenant_id column (global lookups included) must be in postgres.ErasedTables(), and
// the deletion record itself must not be.
func TestEraserCoversEveryTenantTable(t *testing.T) {
	t.Parallel()
	erased := postgres.ErasedTables()
	manifest := map[string]bool{}
	for _, tb := range postgres.Manifest() {
		manifest[tb.Name] = true
		if tb.Class == postgres.DistributedByTenant {
			require.Contains(t, erased, tb.Name, "tenant table %s is not erased when its organization is deleted: add it to eraseSteps", tb.Name)
		}
	}
	for _, name := range erased {
		require.True(t, manifest[name], "the eraser names %s, which the manifest does not list", name)
	}
	require.NotContains(t, erased, "tenant_deletions", "the deletion record outlives the tenant")
	require.Equal(t, len(erased), len(slicesCompact(erased)), "each table is erased once")

	db := postgrestest.New(t)
	conn, err := pgx.Connect(context.Background(), db.AdminURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	rows, err := conn.Query(context.Background(), `SELECT table_name::text FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY 1`)
	require.NoError(t, err)
	withTenant, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, withTenant)
	for _, name := range withTenant {
		require.Contains(t, erased, name, "table %s has a tenant_id column but is not erased: add it to eraseSteps", name)
	}
}

func slicesCompact(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// TestEraseAuditLogsFunction checks the SECURITY DEFINER function that alone may
// delete audit rows: only the transaction's own tenant, only a deleted organization,
// and row-level security still applies inside it.
func TestEraseAuditLogsFunction(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	fa := populate(t, bn, bn.a, bn.ownerA, "a")
	fb := populate(t, bn, bn.b, bn.ownerB, "b")
	conn := appConn(t, bn)
	ctx := context.Background()
	call := func(setting string, tenant coditect.TenantID) (int64, error) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		if setting != "" {
			_, err = tx.Exec(ctx, "SET LOCAL app.tenant_id = '"+setting+"'")
			require.NoError(t, err)
		}
		var n int64
		err = tx.QueryRow(ctx, "SELECT erase_tenant_audit_logs($1, 100)", tenant.String()).Scan(&n)
		if err != nil {
			return 0, err
		}
		return n, tx.Commit(ctx)
	}
	auditRows := func(tenant coditect.TenantID) int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1", tenant.String()).Scan(&n))
		return n
	}

	_, err := call(fa.tenant.String(), fa.tenant)
	require.ErrorContains(t, err, "is not being deleted", "a live organization's audit log cannot be erased")
	deleteOrg(t, bn, bn.a)
	_, err = call("", fa.tenant)
	require.ErrorContains(t, err, "is not the tenant of this transaction")
	_, err = call(fb.tenant.String(), fa.tenant)
	require.ErrorContains(t, err, "is not the tenant of this transaction", "tenant B's transaction cannot erase A")
	_, err = call(fb.tenant.String(), fb.tenant)
	require.ErrorContains(t, err, "is not being deleted")
	require.Equal(t, 3, auditRows(fa.tenant))

	n, err := call(fa.tenant.String(), fa.tenant)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	require.Zero(t, auditRows(fa.tenant))
	require.Equal(t, 3, auditRows(fb.tenant), "tenant B's audit rows remain")

	t.Run("the app role still cannot delete audit rows itself", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		_, err = tx.Exec(ctx, "SET LOCAL app.tenant_id = '"+fb.tenant.String()+"'")
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "DELETE FROM audit_logs WHERE tenant_id = $1", fb.tenant.String())
		require.ErrorContains(t, err, "permission denied")
	})
	t.Run("row-level security applies inside SECURITY DEFINER functions", func(t *testing.T) {
		// The premise of the function's safety: FORCE ROW LEVEL SECURITY binds the
		// owner too, so a definer function sees only the caller's tenant.
		owner, err := pgx.Connect(ctx, bn.db.OwnerURL)
		require.NoError(t, err)
		t.Cleanup(func() { owner.Close(ctx) })
		_, err = owner.Exec(ctx, `CREATE FUNCTION probe_audit_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
			SET search_path = pg_catalog, public AS 'SELECT count(*) FROM public.audit_logs'`)
		require.NoError(t, err)
		_, err = owner.Exec(ctx, "GRANT EXECUTE ON FUNCTION probe_audit_count() TO coditect_app")
		require.NoError(t, err)
		count := func(setting string) int64 {
			tx, err := conn.Begin(ctx)
			require.NoError(t, err)
			defer tx.Rollback(ctx)
			if setting != "" {
				_, err = tx.Exec(ctx, "SET LOCAL app.tenant_id = '"+setting+"'")
				require.NoError(t, err)
			}
			var n int64
			require.NoError(t, tx.QueryRow(ctx, "SELECT probe_audit_count()").Scan(&n))
			return n
		}
		require.EqualValues(t, 3, count(fb.tenant.String()), "only tenant B's rows, not every tenant's")
		require.Zero(t, count(""), "no tenant: no rows")
	})
}
