package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

// target is an empty database to import into.
type target struct {
	store *postgres.Store
	es    postgres.ExportStore
	admin *pgxpool.Pool
}

func newTarget(t *testing.T) target {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	return target{store: store, es: postgres.ExportStore{Store: store}, admin: postgrestest.Pool(t, db.AdminURL)}
}

// exportedTables are the tables an export holds, each with the tenant filter and the
// order that make their rows comparable across databases.
var exportedTables = []struct{ table, where, order string }{
	{"organizations", "id = $1", "id"},
	{"memberships", "tenant_id = $1", "account_id"},
	{"workspaces", "tenant_id = $1", "id"},
	{"projects", "tenant_id = $1", "id"},
	{"tasks", "tenant_id = $1", "id"},
	{"audit_logs", "tenant_id = $1", "id"},
	// Not a tenant table, but kept in step with memberships by the importer.
	{"account_memberships", "tenant_id = $1", "account_id"},
}

// tableJSON returns, as the superuser, every row of tenant in table as one sorted
// JSON array (every column, as PostgreSQL renders it).
func tableJSON(t *testing.T, admin *pgxpool.Pool, table, where, order string, tenant coditect.TenantID) string {
	t.Helper()
	var out string
	require.NoError(t, admin.QueryRow(context.Background(),
		"SELECT COALESCE(json_agg(x ORDER BY "+order+"), '[]')::text FROM "+table+" AS x WHERE "+where, tenant.String()).Scan(&out))
	return out
}

func TestImportRoundTrip(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha")
	populate(t, f, f.b, "bravo")
	_, raw := exportOf(t, f, f.a)
	manifest := readTarGz(t, raw).manifest

	dst := newTarget(t)
	copyAccounts(t, dst.store, f.a)
	rep, err := export.Import(context.Background(), dst.es, bytes.NewReader(raw), export.ImportOptions{BaseDomain: "Example.TEST", TempDir: t.TempDir(), BatchSize: 4})
	require.NoError(t, err)
	require.Equal(t, f.a.id, rep.TenantID)
	require.Equal(t, "alpha", rep.Slug)
	require.Equal(t, "alpha.example.test", rep.Domain)
	require.Empty(t, rep.SkippedMembers)
	require.Zero(t, rep.UnassignedTasks)
	for _, fe := range manifest.Files {
		require.Equal(t, fe.Rows, rep.Rows[strings.TrimSuffix(fe.Name, ".jsonl")], fe.Name)
	}

	// The rows of every exported table are identical, column for column. (The source
	// has one audit row more than the archive: the download's, written after it.)
	_, err = f.admin.Exec(context.Background(), "DELETE FROM audit_logs WHERE tenant_id = $1 AND action = 'export.download'", f.a.id.String())
	require.NoError(t, err)
	for _, tb := range exportedTables {
		src := tableJSON(t, f.admin, tb.table, tb.where, tb.order, f.a.id)
		got := tableJSON(t, dst.admin, tb.table, tb.where, tb.order, f.a.id)
		require.NotEqual(t, "[]", src, tb.table)
		if tb.table == "account_memberships" {
			// created_at of the index row is the membership's in the target; compare the rest.
			src = tableJSON(t, f.admin, "(SELECT account_id, tenant_id, role FROM account_memberships)", tb.where, tb.order, f.a.id)
			got = tableJSON(t, dst.admin, "(SELECT account_id, tenant_id, role FROM account_memberships)", tb.where, tb.order, f.a.id)
		}
		require.Equal(t, src, got, "%s differs after the round trip", tb.table)
	}
	var slugTenant, domainTenant string
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT tenant_id::text FROM tenant_slugs WHERE slug = 'alpha'").Scan(&slugTenant))
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT tenant_id::text FROM tenant_domains WHERE domain = 'alpha.example.test'").Scan(&domainTenant))
	require.Equal(t, f.a.id.String(), slugTenant)
	require.Equal(t, f.a.id.String(), domainTenant)
	var otherRows int
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT count(*) FROM tasks WHERE tenant_id <> $1", f.a.id.String()).Scan(&otherRows))
	require.Zero(t, otherRows, "only the exported tenant arrives")

	t.Run("the imported tenant works", func(t *testing.T) {
		svc := export.NewService(dst.es, f.files, export.Config{TempDir: t.TempDir()})
		list, err := svc.Exports(f.a.admin, export.Page{})
		require.NoError(t, err)
		require.Empty(t, list, "exports are not part of an export")
		// Exporting the imported tenant gives the same data files.
		e, err := svc.RequestExport(f.a.admin)
		require.NoError(t, err)
		require.NoError(t, svc.Run(f.a.system, e.ID))
		r, _, _, err := svc.Download(f.a.admin, e.ID)
		require.NoError(t, err)
		defer r.Close()
		var buf bytes.Buffer
		_, err = buf.ReadFrom(r)
		require.NoError(t, err)
		again := readTarGz(t, buf.Bytes())
		orig := readTarGz(t, raw)
		for _, name := range []string{export.FileOrganization, export.FileMembers, export.FileWorkspaces, export.FileProjects, export.FileTasks} {
			require.Equal(t, string(orig.files[name]), string(again.files[name]), name)
		}
	})

	t.Run("a second import is refused", func(t *testing.T) {
		before := tableJSON(t, dst.admin, "tasks", "tenant_id = $1", "id", f.a.id)
		_, err := export.Import(context.Background(), dst.es, bytes.NewReader(raw), export.ImportOptions{BaseDomain: "example.test"})
		requireCode(t, err, export.CodeTenantExists)
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		require.Equal(t, before, tableJSON(t, dst.admin, "tasks", "tenant_id = $1", "id", f.a.id))
	})

	t.Run("into the source database it is refused", func(t *testing.T) {
		_, err := export.Import(context.Background(), f.es, bytes.NewReader(raw), export.ImportOptions{BaseDomain: "coditect.test"})
		requireCode(t, err, export.CodeTenantExists)
	})
}

func TestImportSkipsMembersWithoutAccount(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha") // assigns tasks to the member
	_, raw := exportOf(t, f, f.a)

	dst := newTarget(t)
	copyAccounts(t, dst.store, f.a, f.a.memberID)
	rep, err := export.Import(context.Background(), dst.es, bytes.NewReader(raw), export.ImportOptions{BaseDomain: "example.test", TempDir: t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, []coditect.AccountID{f.a.memberID}, rep.SkippedMembers)
	require.EqualValues(t, 3, rep.Rows["members"])
	require.EqualValues(t, 4, rep.UnassignedTasks, "one assigned task per project")

	var members, assigned, tasks int
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT count(*) FROM memberships WHERE tenant_id = $1", f.a.id.String()).Scan(&members))
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE assignee_id IS NOT NULL), count(*) FROM tasks WHERE tenant_id = $1",
		f.a.id.String()).Scan(&assigned, &tasks))
	require.Equal(t, 3, members)
	require.Zero(t, assigned)
	require.Equal(t, 12, tasks, "every task is imported")
	// The audit rows keep the missing account as their actor.
	var byMember int
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND actor_id = $2",
		f.a.id.String(), f.a.memberID.String()).Scan(&byMember))
	require.Positive(t, byMember)
}

func TestImportRefusesBadArchives(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha")
	_, raw := exportOf(t, f, f.a)
	dst := newTarget(t)
	copyAccounts(t, dst.store, f.a)

	keep := func(_ string, b []byte) []byte { return b }
	manifestWith := func(edit func(m *export.Manifest)) []byte {
		return rewrite(t, raw, func(name string, b []byte) []byte {
			if name != export.ManifestName {
				return b
			}
			var m export.Manifest
			require.NoError(t, json.Unmarshal(b, &m))
			edit(&m)
			out, err := json.Marshal(m)
			require.NoError(t, err)
			return out
		}, nil)
	}
	cases := map[string][]byte{
		"not gzip":  []byte("hello"),
		"truncated": raw[:len(raw)/2],
		"a changed byte": rewrite(t, raw, func(name string, b []byte) []byte {
			if name == export.FileTasks {
				b = bytes.Replace(b, []byte("alpha task a"), []byte("alpha task A"), 1)
			}
			return b
		}, nil),
		"a missing file": rewrite(t, raw, func(name string, b []byte) []byte {
			if name == export.FileAuditLogs {
				return nil
			}
			return b
		}, nil),
		"an extra file": rewrite(t, raw, keep, map[string][]byte{"../../etc/passwd": []byte("x\n")}),
		"no manifest": rewrite(t, raw, func(name string, b []byte) []byte {
			if name == export.ManifestName {
				return nil
			}
			return b
		}, nil),
		"a future version": manifestWith(func(m *export.Manifest) { m.FormatVersion = 2 }),
		"a row count lie":  manifestWith(func(m *export.Manifest) { m.Files[4].Rows++ }),
		"another tenant's rows": func() []byte {
			other := coditect.NewID[coditect.TenantID]()
			return manifestWith(func(m *export.Manifest) { m.TenantID = other })
		}(),
	}
	for name, archive := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := export.Import(context.Background(), dst.es, bytes.NewReader(archive), export.ImportOptions{BaseDomain: "example.test", TempDir: t.TempDir()})
			requireCode(t, err, export.CodeBadArchive)
			require.Equal(t, coditect.CodeInvalid, coditect.ErrorKind(err))
		})
	}
	var orgs int
	require.NoError(t, dst.admin.QueryRow(context.Background(), "SELECT count(*) FROM organizations").Scan(&orgs))
	require.Zero(t, orgs, "nothing is written from a bad archive")

	_, err := export.Import(context.Background(), dst.es, bytes.NewReader(raw), export.ImportOptions{BaseDomain: "example.test", TempDir: t.TempDir()})
	require.NoError(t, err, "the intact archive imports")
}

// TestExportToImports covers `coditect tenant export ORG FILE` → `coditect tenant
// import FILE`: an archive written straight to a file, as the tenant's system actor.
func TestExportToImports(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha")
	populate(t, f, f.b, "bravo")

	_, err := f.svc.ExportTo(f.a.member, &bytes.Buffer{})
	requireCode(t, err, coditect.CodeForbidden)

	var buf bytes.Buffer
	m, err := f.svc.ExportTo(f.a.system, &buf)
	require.NoError(t, err)
	require.Equal(t, f.a.id, m.TenantID)
	a := readTarGz(t, buf.Bytes())
	require.Equal(t, m, a.manifest)
	require.False(t, bytes.Contains(buf.Bytes(), []byte("bravo")))
	list, err := f.svc.Exports(f.a.admin, export.Page{})
	require.NoError(t, err)
	require.Empty(t, list, "no export record, no job")

	dst := newTarget(t)
	copyAccounts(t, dst.store, f.a)
	rep, err := export.Import(context.Background(), dst.es, &buf, export.ImportOptions{BaseDomain: "example.test", TempDir: t.TempDir()})
	require.NoError(t, err)
	for _, fe := range m.Files {
		require.Equal(t, fe.Rows, rep.Rows[strings.TrimSuffix(fe.Name, ".jsonl")], fe.Name)
	}
	for _, tb := range exportedTables[:6] {
		require.Equal(t, tableJSON(t, f.admin, tb.table, tb.where, tb.order, f.a.id), tableJSON(t, dst.admin, tb.table, tb.where, tb.order, f.a.id), tb.table)
	}
}
