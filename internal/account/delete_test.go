package account_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

const baseDomain = "coditect.test"

// org is one onboarded organization with an owner, an admin and an owner-role API key.
type org struct {
	id     coditect.TenantID
	slug   string
	owner  coditect.Actor // scoped to the organization
	admin  coditect.Actor
	apiKey string
}

type fixture struct {
	store *postgres.Store
	svc   *account.Service
	admin *pgxpool.Pool // superuser, for checks that bypass the application
	a, b  org
}

func setup(t *testing.T) fixture {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	f := fixture{store: store, svc: account.NewService(postgres.AccountStore{Store: store}, store, store, baseDomain, nil),
		admin: postgrestest.Pool(t, db.AdminURL)}
	f.a = newOrg(t, f, "acme")
	f.b = newOrg(t, f, "globex")
	return f
}

func newOrg(t *testing.T, f fixture, slug string) org {
	t.Helper()
	ctx := context.Background()
	acc, o, err := account.Onboard(ctx, postgres.AccountStore{Store: f.store}, account.OnboardParams{Email: slug + "-owner@example.com",
		Name: "Owner", PasswordHash: "x", OrgName: slug, Slug: slug, BaseDomain: baseDomain})
	require.NoError(t, err)
	out := org{id: o.ID, slug: slug,
		owner: coditect.Actor{Kind: coditect.ActorAccount, AccountID: acc.ID, Tenant: o.ID, Role: coditect.RoleOwner},
		admin: coditect.Actor{Kind: coditect.ActorAccount, AccountID: coditect.NewID[coditect.AccountID](), Tenant: o.ID, Role: coditect.RoleAdmin}}
	octx := coditect.WithActor(ctx, out.owner)
	err = f.store.InTx(octx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(octx, account.Account{ID: out.admin.AccountID, Email: slug + "-admin@example.com", Name: "Admin", PasswordHash: "x"}); err != nil {
			return err
		}
		if err := tx.MembershipCreate(octx, out.admin.AccountID, coditect.RoleAdmin); err != nil {
			return err
		}
		ws, err := tx.WorkspaceCreate(octx, work.Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: "W"})
		if err != nil {
			return err
		}
		p, err := tx.ProjectCreate(octx, work.Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: ws.ID, Name: "P"})
		if err != nil {
			return err
		}
		for _, title := range []string{"one", "two", "three"} {
			if _, err := tx.TaskCreate(octx, work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: p.ID, Title: title, Status: work.TaskTodo,
				AssigneeID: &out.admin.AccountID}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	key, err := f.svc.CreateAPIKey(octx, "script", coditect.RoleOwner)
	require.NoError(t, err)
	out.apiKey = key.Secret
	_, err = f.svc.Invite(octx, "someone-"+slug+"@example.com", coditect.RoleMember)
	require.NoError(t, err)
	return out
}

// tenantRows counts, as the superuser, a tenant's rows in every table the eraser covers.
func tenantRows(t *testing.T, admin *pgxpool.Pool, tenant coditect.TenantID) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range postgres.ErasedTables() {
		where := "tenant_id = $1::uuid"
		switch table {
		case "organizations":
			where = "id = $1::uuid"
		case "river_job":
			where = "args @> jsonb_build_object('tenant_id', $1::text) AND kind <> 'account.erase_tenant'"
		}
		var n int
		require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" WHERE "+where,
			tenant.String()).Scan(&n), table)
		out[table] = n
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestDeleteOrganization(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ownerCtx := coditect.WithActor(ctx, f.a.owner)
	beforeA, beforeB := tenantRows(t, f.admin, f.a.id), tenantRows(t, f.admin, f.b.id)

	t.Run("an admin cannot", func(t *testing.T) {
		err := f.svc.DeleteOrganization(coditect.WithActor(ctx, f.a.admin))
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorKind(err))
	})
	t.Run("an API key cannot, even with the owner role", func(t *testing.T) {
		keyActor, err := f.svc.AuthenticateAPIKey(ctx, f.a.apiKey)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleOwner, keyActor.Role)
		err = f.svc.DeleteOrganization(coditect.WithActor(ctx, keyActor))
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorKind(err))
	})
	t.Run("another organization's owner cannot", func(t *testing.T) {
		// B's owner is not a member of A: resolving A fails before any service call.
		_, err := f.svc.ResolveTenant(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: f.b.owner.AccountID}, f.a.slug)
		require.True(t, coditect.IsNotFound(err))
	})
	require.Equal(t, beforeA, tenantRows(t, f.admin, f.a.id), "refused deletions change nothing")

	require.NoError(t, f.svc.DeleteOrganization(ownerCtx))

	t.Run("the organization is unreachable at once", func(t *testing.T) {
		for _, who := range []coditect.Actor{f.a.owner, f.a.admin} {
			_, err := f.svc.ResolveTenant(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: who.AccountID}, f.a.slug)
			require.True(t, coditect.IsNotFound(err), "members get not found: %v", err)
			_, err = f.svc.ResolveTenant(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: who.AccountID}, f.a.id.String())
			require.True(t, coditect.IsNotFound(err))
			_, err = f.store.MembershipGet(ownerCtx, who.AccountID)
			require.True(t, coditect.IsNotFound(err))
			ms, err := f.store.AccountMemberships(ctx, who.AccountID)
			require.NoError(t, err)
			require.Empty(t, ms, "the organization is gone from the account's list")
		}
		_, err := f.svc.AuthenticateAPIKey(ctx, f.a.apiKey)
		require.Equal(t, coditect.CodeUnauthorized, coditect.ErrorKind(err), "its API keys are revoked")
		_, err = f.svc.Organization(ownerCtx)
		require.True(t, coditect.IsNotFound(err))
		require.True(t, coditect.IsNotFound(f.svc.DeleteOrganization(ownerCtx)), "deleting twice is not found")
	})
	t.Run("one audit row, one erase job, one record", func(t *testing.T) {
		var n int
		require.NoError(t, f.admin.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'organization.delete'
			AND actor_id = $2`, f.a.id.String(), f.a.owner.AccountID.String()).Scan(&n))
		require.Equal(t, 1, n)
		require.NoError(t, f.admin.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'account.erase_tenant'
			AND args @> jsonb_build_object('tenant_id', $1::text)`, f.a.id.String()).Scan(&n))
		require.Equal(t, 1, n)
		d, err := f.store.TenantDeletionGet(ownerCtx)
		require.NoError(t, err)
		require.Equal(t, f.a.slug, d.Slug)
		require.Equal(t, []string{f.a.slug + "." + baseDomain}, d.Domains)
		require.Equal(t, f.a.owner.AccountID, *d.RequestedBy)
		require.Nil(t, d.CompletedAt)
	})
	t.Run("tenant B is untouched", func(t *testing.T) {
		require.Equal(t, beforeB, tenantRows(t, f.admin, f.b.id))
		scoped, err := f.svc.ResolveTenant(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: f.b.owner.AccountID}, f.b.slug)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleOwner, scoped.Role)
		_, err = f.svc.AuthenticateAPIKey(ctx, f.b.apiKey)
		require.NoError(t, err)
	})
}

func TestEraseTenant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	system := coditect.WithActor(ctx, coditect.SystemActor(f.a.id))
	beforeB := tenantRows(t, f.admin, f.b.id)
	var auditB int
	require.NoError(t, f.admin.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1", f.b.id.String()).Scan(&auditB))
	require.Positive(t, auditB)

	t.Run("a live organization is not erased", func(t *testing.T) {
		_, err := account.EraseTenant(system, f.store, 2)
		require.True(t, coditect.IsNotFound(err), "got %v", err)
		require.Positive(t, tenantRows(t, f.admin, f.a.id)["tasks"])
	})
	require.NoError(t, f.svc.DeleteOrganization(coditect.WithActor(ctx, f.a.owner)))

	t.Run("only the system erases", func(t *testing.T) {
		_, err := account.EraseTenant(coditect.WithActor(ctx, f.a.owner), f.store, 2)
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorKind(err))
		_, err = account.EraseTenant(ctx, f.store, 2)
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
	})

	d, err := account.EraseTenant(system, f.store, 2)
	require.NoError(t, err)
	require.NotNil(t, d.CompletedAt)
	require.NotNil(t, d.StartedAt)
	require.Zero(t, sum(tenantRows(t, f.admin, f.a.id)), "every row of tenant A is gone: %v", tenantRows(t, f.admin, f.a.id))
	var erasedJobs int
	require.NoError(t, f.admin.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind <> 'account.erase_tenant'
		AND args @> jsonb_build_object('tenant_id', $1::text)`, f.a.id.String()).Scan(&erasedJobs))
	require.Zero(t, erasedJobs, "the tenant's queued jobs (the invitation email) went too")
	for _, table := range []string{"tasks", "projects", "workspaces", "memberships", "account_memberships", "audit_logs", "api_keys",
		"api_key_prefixes", "invitations", "invitation_tokens", "organizations", "tenant_slugs", "tenant_domains", "river_job"} {
		require.Positive(t, d.RowsDeleted[table], "rows_deleted counts %s", table)
	}
	require.EqualValues(t, 3, d.RowsDeleted["tasks"])
	require.EqualValues(t, 2, d.RowsDeleted["memberships"])

	require.Equal(t, beforeB, tenantRows(t, f.admin, f.b.id), "tenant B is untouched")
	var auditBAfter int
	require.NoError(t, f.admin.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1", f.b.id.String()).Scan(&auditBAfter))
	require.Equal(t, auditB, auditBAfter, "tenant B's audit rows remain")

	t.Run("the record outlives the tenant", func(t *testing.T) {
		again, err := f.store.TenantDeletionGet(system)
		require.NoError(t, err)
		require.Equal(t, d, again)
		d2, err := account.EraseTenant(system, f.store, 2)
		require.NoError(t, err, "erasing a finished tenant is a no-op")
		require.Equal(t, d, d2)
	})
	t.Run("the slug and domain can be claimed by a new organization", func(t *testing.T) {
		people := coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: f.b.owner.AccountID})
		o, err := f.svc.CreateOrganization(people, "Acme again", f.a.slug)
		require.NoError(t, err)
		require.NotEqual(t, f.a.id, o.ID)
		id, err := f.store.TenantByDomain(ctx, f.a.slug+"."+baseDomain)
		require.NoError(t, err)
		require.Equal(t, o.ID, id)
	})
}
