package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
)

// tenantIDs returns, as the superuser, every id of tenant's rows in every exported
// table, and its organization's slug.
func tenantIDs(t *testing.T, f fixture, tenant coditect.TenantID) []string {
	t.Helper()
	rows, err := f.admin.Query(context.Background(), `
		SELECT id::text FROM organizations WHERE id = $1
		UNION ALL SELECT slug FROM organizations WHERE id = $1
		UNION ALL SELECT account_id::text FROM memberships WHERE tenant_id = $1
		UNION ALL SELECT id::text FROM workspaces WHERE tenant_id = $1
		UNION ALL SELECT id::text FROM projects WHERE tenant_id = $1
		UNION ALL SELECT id::text FROM tasks WHERE tenant_id = $1
		UNION ALL SELECT id::text FROM audit_logs WHERE tenant_id = $1`, tenant.String())
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func dbCount(t *testing.T, f fixture, table string, tenant coditect.TenantID) int64 {
	t.Helper()
	col := "tenant_id"
	if table == "organizations" {
		col = "id"
	}
	var n int64
	require.NoError(t, f.admin.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+col+" = $1", tenant.String()).Scan(&n))
	return n
}

func TestExportContainsOnlyItsTenant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha-data")
	populate(t, f, f.b, "bravo-secret")

	e, err := f.svc.RequestExport(f.a.admin)
	require.NoError(t, err)
	require.Equal(t, export.StatusPending, e.Status)
	require.Equal(t, f.a.adminID.String(), e.RequestedBy)

	// One transaction wrote the export, its audit row and its job.
	var audits, jobs int
	require.NoError(t, f.admin.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs
		WHERE tenant_id = $1 AND action = 'export.create' AND target_id = $2 AND actor_id = $3`,
		f.a.id.String(), e.ID.String(), f.a.adminID.String()).Scan(&audits))
	require.Equal(t, 1, audits)
	require.NoError(t, f.admin.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'export.run' AND args @> jsonb_build_object('tenant_id', $1::text, 'export_id', $2::text)`,
		f.a.id.String(), e.ID.String()).Scan(&jobs))
	require.Equal(t, 1, jobs)

	require.NoError(t, f.svc.Run(f.a.system, e.ID))
	tables := map[string]string{export.FileOrganization: "organizations", export.FileMembers: "memberships", export.FileWorkspaces: "workspaces",
		export.FileProjects: "projects", export.FileTasks: "tasks", export.FileAuditLogs: "audit_logs"}
	inDB := map[string]int64{}
	for file, table := range tables {
		inDB[file] = dbCount(t, f, table, f.a.id)
	}
	done, err := f.svc.Export(f.a.admin, e.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusCompleted, done.Status)
	require.NotNil(t, done.StartedAt)
	require.NotNil(t, done.CompletedAt)
	require.NotNil(t, done.ExpiresAt)
	require.WithinDuration(t, done.CompletedAt.Add(ttl), *done.ExpiresAt, time.Second)
	require.False(t, done.Expired)
	require.Empty(t, done.Error)

	r, size, name, err := f.svc.Download(f.a.admin, e.ID)
	require.NoError(t, err)
	raw, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.EqualValues(t, size, len(raw))
	require.Equal(t, done.SizeBytes, size)
	require.True(t, strings.HasPrefix(name, "coditect-export-") && strings.HasSuffix(name, ".tar.gz"), name)

	a := readTarGz(t, raw)
	require.Equal(t, append([]string{export.ManifestName}, export.DataFiles()...), a.order, "manifest first, then the data files")

	t.Run("manifest", func(t *testing.T) {
		m := a.manifest
		require.Equal(t, export.FormatName, m.Format)
		require.Equal(t, export.FormatVersion, m.FormatVersion)
		require.Equal(t, f.a.id, m.TenantID)
		require.Equal(t, e.ID, m.ExportID)
		require.True(t, e.CreatedAt.Equal(m.CreatedAt))
		require.Len(t, m.Files, len(export.DataFiles()))
		for _, fe := range m.Files {
			body := a.files[fe.Name]
			sum := sha256.Sum256(body)
			require.Equal(t, hex.EncodeToString(sum[:]), fe.SHA256, "%s: the checksum matches the file", fe.Name)
			require.EqualValues(t, len(body), fe.Bytes, fe.Name)
			require.EqualValues(t, bytes.Count(body, []byte("\n")), fe.Rows, fe.Name)
			require.Equal(t, done.Counts[strings.TrimSuffix(fe.Name, ".jsonl")], fe.Rows, "the export's counts are the manifest's")
			require.Equal(t, inDB[fe.Name], fe.Rows, "%s has every row of the tenant", fe.Name)
			require.Positive(t, fe.Rows, fe.Name)
		}
	})

	t.Run("every row is the tenant's", func(t *testing.T) {
		for _, name := range export.DataFiles() {
			for i, line := range bytes.Split(bytes.TrimSuffix(a.files[name], []byte("\n")), []byte("\n")) {
				var row map[string]any
				require.NoError(t, json.Unmarshal(line, &row), "%s line %d", name, i+1)
				key := "tenant_id"
				if name == export.FileOrganization {
					key = "id"
				}
				require.Equal(t, f.a.id.String(), row[key], "%s line %d", name, i+1)
				for _, secret := range []string{"password_hash", "token_hash", "secret_hash", "totp_secret"} {
					require.NotContains(t, row, secret)
				}
			}
		}
	})

	t.Run("nothing of the other tenant", func(t *testing.T) {
		var all []byte
		for _, body := range a.files {
			all = append(all, body...)
		}
		bIDs := tenantIDs(t, f, f.b.id)
		require.Greater(t, len(bIDs), 20)
		for _, id := range bIDs {
			require.False(t, bytes.Contains(all, []byte(id)), "B's %s is in A's export", id)
		}
		require.False(t, bytes.Contains(all, []byte("bravo")), "B's names are not in A's export")
		require.True(t, bytes.Contains(all, []byte("alpha-data task a")))
		require.True(t, bytes.Contains(all, []byte(`"due_at":"2030-01-02T03:04:05.678901Z"`)), "times keep their microseconds, in UTC")
		require.True(t, bytes.Contains(all, []byte(`"ip":"203.0.113.9"`)))
	})

	t.Run("the archive is stored where the export says, privately", func(t *testing.T) {
		key := export.StorageKey(f.a.id, e.ID)
		info, err := os.Stat(filepath.Join(f.dir, filepath.FromSlash(key)))
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
		require.Equal(t, size, info.Size())
	})

	t.Run("the download is audited", func(t *testing.T) {
		var n int
		require.NoError(t, f.admin.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs
			WHERE tenant_id = $1 AND action = 'export.download' AND target_id = $2`, f.a.id.String(), e.ID.String()).Scan(&n))
		require.Equal(t, 1, n)
	})
}

func TestExportPermissions(t *testing.T) {
	t.Parallel()
	f := setup(t)

	for name, ctx := range map[string]context.Context{"viewer": f.a.viewer, "member": f.a.member} {
		t.Run(name+" cannot request", func(t *testing.T) {
			_, err := f.svc.RequestExport(ctx)
			requireCode(t, err, coditect.CodeForbidden)
		})
	}

	e, err := f.svc.RequestExport(f.a.owner) // owner is above admin
	require.NoError(t, err)

	t.Run("one at a time", func(t *testing.T) {
		_, err := f.svc.RequestExport(f.a.admin)
		requireCode(t, err, export.CodeInProgress)
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
	})

	t.Run("not ready", func(t *testing.T) {
		_, _, _, err := f.svc.Download(f.a.admin, e.ID)
		requireCode(t, err, export.CodeNotReady)
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
	})

	require.NoError(t, f.svc.Run(f.a.system, e.ID))

	for name, ctx := range map[string]context.Context{"viewer": f.a.viewer, "member": f.a.member} {
		t.Run(name+" cannot see or download", func(t *testing.T) {
			_, _, _, err := f.svc.Download(ctx, e.ID)
			requireCode(t, err, coditect.CodeForbidden)
			_, err = f.svc.Export(ctx, e.ID)
			requireCode(t, err, coditect.CodeForbidden)
			_, err = f.svc.Exports(ctx, export.Page{})
			requireCode(t, err, coditect.CodeForbidden)
		})
	}

	t.Run("another tenant's export is not found", func(t *testing.T) {
		_, _, _, err := f.svc.Download(f.b.owner, e.ID)
		requireCode(t, err, coditect.CodeNotFound)
		_, err = f.svc.Export(f.b.owner, e.ID)
		requireCode(t, err, coditect.CodeNotFound)
		list, err := f.svc.Exports(f.b.owner, export.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		// Even the job of B cannot run A's export.
		requireCode(t, f.svc.Run(f.b.system, e.ID), coditect.CodeNotFound)
		_, err = f.svc.Export(f.a.admin, e.ID)
		require.NoError(t, err)
	})

	t.Run("admin and owner can", func(t *testing.T) {
		for _, ctx := range []context.Context{f.a.admin, f.a.owner} {
			r, _, _, err := f.svc.Download(ctx, e.ID)
			require.NoError(t, err)
			require.NoError(t, r.Close())
		}
		list, err := f.svc.Exports(f.a.admin, export.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, e.ID, list[0].ID)
	})

	t.Run("no tenant", func(t *testing.T) {
		_, err := f.svc.RequestExport(context.Background())
		requireCode(t, err, coditect.CodeNoTenant)
	})
}

func TestExpiredExportIsNotDownloadable(t *testing.T) {
	t.Parallel()
	f := setup(t)

	// An export completed eight days ago (TTL seven) ...
	f.clock.set(-8 * 24 * time.Hour)
	old, err := f.svc.RequestExport(f.a.admin)
	require.NoError(t, err)
	require.NoError(t, f.svc.Run(f.a.system, old.ID))
	f.clock.set(0)
	// ... and a fresh one, of B.
	fresh, err := f.svc.RequestExport(f.b.admin)
	require.NoError(t, err)
	require.NoError(t, f.svc.Run(f.b.system, fresh.ID))

	got, err := f.svc.Export(f.a.admin, old.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusCompleted, got.Status)
	require.True(t, got.Expired)
	_, _, _, err = f.svc.Download(f.a.admin, old.ID)
	requireCode(t, err, export.CodeExpired)
	require.Equal(t, coditect.CodeNotFound, coditect.ErrorKind(err))

	oldPath := filepath.Join(f.dir, filepath.FromSlash(export.StorageKey(f.a.id, old.ID)))
	_, err = os.Stat(oldPath)
	require.NoError(t, err, "the file is still there until the purge")

	n, err := f.svc.PurgeExpired(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = os.Stat(oldPath)
	require.ErrorIs(t, err, fs.ErrNotExist, "the purge deleted the expired archive")
	got, err = f.svc.Export(f.a.admin, old.ID)
	require.NoError(t, err)
	require.True(t, got.Expired)
	_, _, _, err = f.svc.Download(f.a.admin, old.ID)
	requireCode(t, err, export.CodeExpired)

	n, err = f.svc.PurgeExpired(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to purge")
	r, _, _, err := f.svc.Download(f.b.admin, fresh.ID)
	require.NoError(t, err, "an unexpired export of another tenant is untouched")
	require.NoError(t, r.Close())
}

func TestRunIsIdempotent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha")
	e, err := f.svc.RequestExport(f.a.admin)
	require.NoError(t, err)
	key := export.StorageKey(f.a.id, e.ID)

	stored := func() []byte {
		r, _, err := f.files.Open(context.Background(), key)
		require.NoError(t, err)
		defer r.Close()
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		return b
	}
	filesIn := func() []string {
		var out []string
		require.NoError(t, filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return err
		}))
		return out
	}

	require.NoError(t, f.svc.Run(f.a.system, e.ID))
	first, err := f.svc.Export(f.a.admin, e.ID)
	require.NoError(t, err)
	firstBytes := stored()

	t.Run("a completed export is left alone", func(t *testing.T) {
		require.NoError(t, f.svc.Run(f.a.system, e.ID))
		again, err := f.svc.Export(f.a.admin, e.ID)
		require.NoError(t, err)
		require.Equal(t, first, again)
	})

	t.Run("a re-run after a crash overwrites the same archive", func(t *testing.T) {
		// The worker died after storing the archive, before completing the export.
		_, err := f.admin.Exec(context.Background(), "UPDATE exports SET status = 'running', completed_at = NULL WHERE tenant_id = $1 AND id = $2",
			f.a.id.String(), e.ID.String())
		require.NoError(t, err)
		require.NoError(t, f.svc.Run(f.a.system, e.ID))
		again, err := f.svc.Export(f.a.admin, e.ID)
		require.NoError(t, err)
		require.Equal(t, export.StatusCompleted, again.Status)
		require.Equal(t, first.Counts, again.Counts)
		require.Equal(t, first.SizeBytes, again.SizeBytes)
		require.Equal(t, first.StorageKey, again.StorageKey)
		require.Equal(t, firstBytes, stored(), "the same data gives the same bytes")
		require.Len(t, filesIn(), 1, "one archive, no leftovers")
	})
}

// failingFiles is a Files store whose writes fail after a few bytes.
type failingFiles struct {
	export.Files
}

type failingWriter struct {
	io.WriteCloser
	n int
}

var errDisk = errors.New("disk on fire at /var/lib/secret/path")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > 100 {
		return 0, errDisk
	}
	return w.WriteCloser.Write(p)
}

func (w *failingWriter) Abort() error { return w.WriteCloser.(interface{ Abort() error }).Abort() }

func (f failingFiles) Create(ctx context.Context, key string) (io.WriteCloser, error) {
	w, err := f.Files.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &failingWriter{WriteCloser: w}, nil
}

func TestFailedExport(t *testing.T) {
	t.Parallel()
	f := setup(t)
	populate(t, f, f.a, "alpha")
	broken := export.NewService(f.es, failingFiles{f.files}, export.Config{TempDir: t.TempDir()})
	e, err := broken.RequestExport(f.a.admin)
	require.NoError(t, err)

	err = broken.Run(f.a.system, e.ID)
	require.ErrorIs(t, err, errDisk)
	got, err := f.svc.Export(f.a.admin, e.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusRunning, got.Status, "still running: the job will be retried")
	_, _, err = f.files.Open(context.Background(), export.StorageKey(f.a.id, e.ID))
	require.ErrorIs(t, err, fs.ErrNotExist, "a failed write publishes nothing")

	require.NoError(t, broken.Fail(f.a.system, e.ID, err))
	got, err = f.svc.Export(f.a.admin, e.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusFailed, got.Status)
	require.NotEmpty(t, got.Error)
	require.NotContains(t, got.Error, "secret", "the message is safe to show")
	_, _, _, err = f.svc.Download(f.a.admin, e.ID)
	requireCode(t, err, export.CodeFailed)

	t.Run("a new export can be requested", func(t *testing.T) {
		next, err := f.svc.RequestExport(f.a.admin)
		require.NoError(t, err)
		require.NoError(t, f.svc.Run(f.a.system, next.ID))
	})

	t.Run("a retried failed export completes", func(t *testing.T) {
		require.NoError(t, f.svc.Run(f.a.system, e.ID))
		got, err := f.svc.Export(f.a.admin, e.ID)
		require.NoError(t, err)
		require.Equal(t, export.StatusCompleted, got.Status)
		require.Empty(t, got.Error)
	})
}

func TestPurgeFailsAbandonedExports(t *testing.T) {
	t.Parallel()
	f := setup(t)
	broken := export.NewService(f.es, failingFiles{f.files}, export.Config{TempDir: t.TempDir()})
	e, err := broken.RequestExport(f.a.admin)
	require.NoError(t, err)
	require.Error(t, broken.Run(f.a.system, e.ID))
	// Its worker died for good; long after, the purge finds the export's file record.
	_, err = f.admin.Exec(context.Background(), "UPDATE export_files SET expires_at = now() - interval '1 minute' WHERE export_id = $1", e.ID.String())
	require.NoError(t, err)
	n, err := f.svc.PurgeExpired(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := f.svc.Export(f.a.admin, e.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusFailed, got.Status)
	require.NotEmpty(t, got.Error)
	_, err = f.svc.RequestExport(f.a.admin)
	require.NoError(t, err, "the abandoned export no longer blocks new ones")
}
