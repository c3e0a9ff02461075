package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/work"
)

func createExport(t *testing.T, bn bundle, ctx context.Context) export.Export {
	t.Helper()
	var e export.Export
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) (err error) {
		e, err = tx.ExportCreate(ctx, export.Export{ID: export.NewID(), RequestedBy: coditect.NewID[coditect.AccountID]().String()})
		return err
	})
	require.NoError(t, err)
	return e
}

func saveExport(t *testing.T, bn bundle, ctx context.Context, e export.Export) export.Export {
	t.Helper()
	var out export.Export
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) (err error) {
		out, err = tx.ExportSave(ctx, e)
		return err
	})
	require.NoError(t, err)
	return out
}

func TestStoreExports(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()

	e := createExport(t, bn, bn.a)
	require.Equal(t, export.StatusPending, e.Status)
	require.NotEmpty(t, e.RequestedBy)
	require.Equal(t, map[string]int64{}, e.Counts)

	got, err := bn.store.ExportGet(bn.a, e.ID)
	require.NoError(t, err)
	require.Equal(t, e, got)

	t.Run("one unfinished export per tenant", func(t *testing.T) {
		err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
			_, err := tx.ExportCreate(bn.a, export.Export{ID: export.NewID()})
			return err
		})
		require.Equal(t, export.CodeInProgress, coditect.ErrorCode(err))
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		// Another tenant is not blocked by it.
		other := createExport(t, bn, bn.b)
		other.Status = export.StatusFailed
		saveExport(t, bn, bn.b, other)
	})

	now := time.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(time.Hour)
	e.Status, e.StartedAt, e.CompletedAt, e.ExpiresAt = export.StatusCompleted, &now, &now, &exp
	e.SizeBytes, e.Counts, e.StorageKey = 1234, map[string]int64{"tasks": 5}, "exports/x/y.tar.gz"
	saved := saveExport(t, bn, bn.a, e)
	require.Equal(t, e, saved)

	t.Run("list pages newest first", func(t *testing.T) {
		second := createExport(t, bn, bn.a)
		list, err := bn.store.ExportList(bn.a, export.Page{Limit: 1})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, second.ID, list[0].ID)
		list, err = bn.store.ExportList(bn.a, export.Page{Limit: 10, CreatedAt: list[0].CreatedAt, ID: list[0].ID})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, e.ID, list[0].ID)
	})

	t.Run("files", func(t *testing.T) {
		past := time.Now().Add(-time.Minute)
		err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
			return tx.ExportFileSave(bn.a, export.File{ExportID: e.ID, StorageKey: "k-a", ExpiresAt: past})
		})
		require.NoError(t, err)
		be := export.NewID()
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			if err := tx.ExportFileSave(bn.b, export.File{ExportID: be, StorageKey: "k-b-old", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			// Saving again moves the expiry (and key) of the same record.
			return tx.ExportFileSave(bn.b, export.File{ExportID: be, StorageKey: "k-b", ExpiresAt: past})
		})
		require.NoError(t, err)
		live := export.NewID()
		require.NoError(t, bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			return tx.ExportFileSave(bn.b, export.File{ExportID: live, StorageKey: "k-live", ExpiresAt: time.Now().Add(time.Hour)})
		}))

		files, err := bn.store.SystemExportFilesExpired(ctx, 10)
		require.NoError(t, err)
		keys := map[string]coditect.TenantID{}
		for _, f := range files {
			keys[f.StorageKey] = f.Tenant
		}
		require.Equal(t, map[string]coditect.TenantID{"k-a": coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.a))),
			"k-b": coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.b)))}, keys, "expired files of every tenant, and only those")

		var forgot bool
		require.NoError(t, bn.store.InTx(bn.b, func(tx *postgres.Tx) (err error) {
			forgot, err = tx.ExportFileForget(bn.b, e.ID) // A's export id, in B
			return err
		}))
		require.False(t, forgot, "B cannot forget A's file")
		require.NoError(t, bn.store.InTx(bn.b, func(tx *postgres.Tx) (err error) {
			forgot, err = tx.ExportFileForget(bn.b, live)
			return err
		}))
		require.False(t, forgot, "a file that has not expired is kept")
		require.NoError(t, bn.store.InTx(bn.a, func(tx *postgres.Tx) (err error) {
			forgot, err = tx.ExportFileForget(bn.a, e.ID)
			return err
		}))
		require.True(t, forgot)
		files, err = bn.store.SystemExportFilesExpired(ctx, 10)
		require.NoError(t, err)
		require.Len(t, files, 1)
		require.Equal(t, "k-b", files[0].StorageKey)
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.ExportGet(bn.b, e.ID)
		requireNotFound(t, err)
		list, err := bn.store.ExportList(bn.b, export.Page{Limit: 50})
		require.NoError(t, err)
		for _, x := range list {
			require.NotEqual(t, e.ID, x.ID)
		}
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.ExportGetForUpdate(bn.b, e.ID)
			return err
		})
		requireNotFound(t, err)
		hijack := e
		hijack.Status, hijack.StorageKey = export.StatusFailed, "exports/evil"
		err = bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.ExportSave(bn.b, hijack)
			return err
		})
		requireNotFound(t, err)
		got, err := bn.store.ExportGet(bn.a, e.ID)
		require.NoError(t, err)
		require.Equal(t, saved, got, "A's export is unchanged")
	})

	t.Run("no tenant fails closed", func(t *testing.T) {
		_, err := bn.store.ExportGet(ctx, e.ID)
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
		err = bn.store.ExportSnapshot(ctx, func(export.Snapshot) error { return nil })
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
	})
}

func TestStoreExportSnapshot(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	fa := populate(t, bn, bn.a, bn.ownerA, "a")
	populate(t, bn, bn.b, bn.ownerB, "b")
	ws := createWorkspace(t, bn, bn.a, "second")
	p := createProject(t, bn, bn.a, ws.ID, "second")
	for i := range 4 {
		createTask(t, bn, bn.a, p.ID, "t"+string(rune('0'+i)))
	}

	count := func(table string, tenant coditect.TenantID) int {
		var n int
		require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE tenant_id = $1", tenant.String()).Scan(&n))
		return n
	}

	var tasks []export.TaskRow
	err := bn.store.ExportSnapshot(bn.a, func(s export.Snapshot) error {
		org, err := s.Organization(bn.a)
		require.NoError(t, err)
		require.Equal(t, fa.tenant, org.ID)
		require.Equal(t, "tenant-a", org.Slug)

		// Pages of one row walk the whole table in key order.
		var after coditect.TaskID
		for {
			page, err := s.Tasks(bn.a, after, 1)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.Len(t, page, 1)
			require.Greater(t, page[0].ID.String(), after.String())
			tasks = append(tasks, page...)
			after = page[0].ID

			if len(tasks) == 1 {
				// A task added meanwhile is not in this snapshot.
				createTask(t, bn, bn.a, p.ID, "late")
			}
		}
		for _, tr := range tasks {
			require.Equal(t, fa.tenant, tr.TenantID)
			require.NotEqual(t, "late", tr.Title)
		}

		members, err := s.Members(bn.a, coditect.AccountID{}, 100)
		require.NoError(t, err)
		require.Len(t, members, 2)
		workspaces, err := s.Workspaces(bn.a, coditect.WorkspaceID{}, 100)
		require.NoError(t, err)
		require.Len(t, workspaces, count("workspaces", fa.tenant))
		projects, err := s.Projects(bn.a, coditect.ProjectID{}, 100)
		require.NoError(t, err)
		require.Len(t, projects, count("projects", fa.tenant))
		audits, err := s.AuditLogs(bn.a, coditect.AuditLogID{}, 1000)
		require.NoError(t, err)
		require.Len(t, audits, count("audit_logs", fa.tenant))
		for _, a := range audits {
			require.Equal(t, fa.tenant, a.TenantID)
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, tasks, count("tasks", fa.tenant)-1, "every task but the one added during the snapshot")

	t.Run("other tenant sees nothing", func(t *testing.T) {
		err := bn.store.ExportSnapshot(bn.b, func(s export.Snapshot) error {
			tasks, err := s.Tasks(bn.b, coditect.TaskID{}, 1000)
			require.NoError(t, err)
			require.Len(t, tasks, count("tasks", coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.b)))))
			for _, tr := range tasks {
				require.NotEqual(t, fa.tenant, tr.TenantID)
			}
			members, err := s.Members(bn.b, coditect.AccountID{}, 1000)
			require.NoError(t, err)
			for _, m := range members {
				require.NotEqual(t, fa.member, m.AccountID)
			}
			return nil
		})
		require.NoError(t, err)
	})
}

func TestStoreExportImport(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	tenant := coditect.NewID[coditect.TenantID]()
	ctx := coditect.WithActor(context.Background(), coditect.SystemActor(tenant))
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	org := export.OrganizationRow{ID: tenant, Slug: "imported", Name: "Imported", CreatedAt: created, UpdatedAt: created.Add(time.Second)}

	t.Run("a taken slug is refused", func(t *testing.T) {
		taken := org
		taken.Slug = "tenant-a"
		err := bn.store.InTx(ctx, func(tx *postgres.Tx) error { return tx.ImportOrganization(ctx, taken, "x.coditect.test") })
		require.Equal(t, export.CodeTenantExists, coditect.ErrorCode(err))
	})
	t.Run("an existing organization id is refused", func(t *testing.T) {
		a := coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.a)))
		actx := coditect.WithActor(context.Background(), coditect.SystemActor(a))
		dup := org
		dup.ID, dup.Slug = a, "fresh-slug"
		err := bn.store.InTx(actx, func(tx *postgres.Tx) error { return tx.ImportOrganization(actx, dup, "fresh-slug.coditect.test") })
		require.Equal(t, export.CodeTenantExists, coditect.ErrorCode(err))
	})

	member := coditect.NewID[coditect.AccountID]()
	ws := export.WorkspaceRow{TenantID: tenant, ID: coditect.NewID[coditect.WorkspaceID](), Name: "W", Description: "d\n\"q\"", CreatedAt: created, UpdatedAt: created}
	due := created.Add(48 * time.Hour)
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
		if err := tx.ImportOrganization(ctx, org, "imported.coditect.test"); err != nil {
			return err
		}
		if err := tx.AccountCreate(ctx, accountRow(member)); err != nil {
			return err
		}
		if err := tx.ImportMembers(ctx, []export.MemberRow{{TenantID: tenant, AccountID: member, Role: coditect.RoleAdmin, CreatedAt: created, UpdatedAt: created}}); err != nil {
			return err
		}
		if err := tx.ImportWorkspaces(ctx, []export.WorkspaceRow{ws}); err != nil {
			return err
		}
		pid := coditect.NewID[coditect.ProjectID]()
		if err := tx.ImportProjects(ctx, []export.ProjectRow{{TenantID: tenant, ID: pid, WorkspaceID: ws.ID, Name: "P", CreatedAt: created, UpdatedAt: created}}); err != nil {
			return err
		}
		return tx.ImportTasks(ctx, []export.TaskRow{
			{TenantID: tenant, ID: coditect.NewID[coditect.TaskID](), ProjectID: pid, Title: "a", Status: string(work.TaskDone), AssigneeID: &member, DueAt: &due, CreatedAt: created, UpdatedAt: created},
			{TenantID: tenant, ID: coditect.NewID[coditect.TaskID](), ProjectID: pid, Title: "b", Status: string(work.TaskTodo), CreatedAt: created, UpdatedAt: created},
		})
	})
	require.NoError(t, err)

	var got struct {
		Name, Desc string
		Created    time.Time
		Role       string
	}
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT name, description, created_at FROM workspaces WHERE tenant_id = $1", tenant.String()).
		Scan(&got.Name, &got.Desc, &got.Created))
	require.Equal(t, "W", got.Name)
	require.Equal(t, ws.Description, got.Desc)
	require.True(t, created.Equal(got.Created), "times are kept to the microsecond")
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT role FROM account_memberships WHERE account_id = $1 AND tenant_id = $2",
		member.String(), tenant.String()).Scan(&got.Role))
	require.Equal(t, "admin", got.Role, "the account-keyed index of memberships is kept in step")
	var slugTenant string
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT tenant_id::text FROM tenant_slugs WHERE slug = 'imported'").Scan(&slugTenant))
	require.Equal(t, tenant.String(), slugTenant)

	t.Run("rows of another tenant are refused", func(t *testing.T) {
		other := coditect.NewID[coditect.TenantID]()
		err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
			return tx.ImportWorkspaces(ctx, []export.WorkspaceRow{{TenantID: other, ID: coditect.NewID[coditect.WorkspaceID](), Name: "x", CreatedAt: created, UpdatedAt: created}})
		})
		require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err))
	})

	t.Run("accounts existing", func(t *testing.T) {
		missing := coditect.NewID[coditect.AccountID]()
		ids, err := bn.store.AccountsExisting(context.Background(), []coditect.AccountID{member, missing, bn.ownerA})
		require.NoError(t, err)
		require.ElementsMatch(t, []coditect.AccountID{member, bn.ownerA}, ids)
	})
}

func TestStoreExportErase(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	admin := rawPool(t, bn)
	ea := createExport(t, bn, bn.a)
	eb := createExport(t, bn, bn.b)
	later := time.Now().Add(24 * time.Hour)
	for _, x := range []struct {
		ctx context.Context
		id  export.ID
	}{{bn.a, ea.ID}, {bn.b, eb.ID}} {
		require.NoError(t, bn.store.InTx(x.ctx, func(tx *postgres.Tx) error {
			return tx.ExportFileSave(x.ctx, export.File{ExportID: x.id, StorageKey: "k-" + x.id.String(), ExpiresAt: later})
		}))
	}
	require.Contains(t, postgres.ErasedTables(), "exports")

	deleteOrg(t, bn, bn.a, "tenant-a.coditect.test")
	eraseAll(t, bn.store, bn.a, 10)

	actorA, _ := coditect.ActorFrom(bn.a)
	var n int
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT count(*) FROM exports WHERE tenant_id = $1", actorA.Tenant.String()).Scan(&n))
	require.Zero(t, n, "the erased tenant's exports are gone")
	files, err := bn.store.SystemExportFilesExpired(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, files, 1, "the erased tenant's archive is due for the purge")
	require.Equal(t, ea.ID, files[0].ExportID)
	_, err = bn.store.ExportGet(bn.b, eb.ID)
	require.NoError(t, err, "the other tenant's export stays")
	d, err := bn.store.TenantDeletionGet(bn.a)
	require.NoError(t, err)
	require.EqualValues(t, 1, d.RowsDeleted["exports"], "the deletion record counts the exports")
}

func accountRow(id coditect.AccountID) account.Account {
	return account.Account{ID: id, Email: id.String() + "@example.com", Name: "imported", PasswordHash: "x"}
}
