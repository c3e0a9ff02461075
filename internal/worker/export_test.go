package worker_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/storage"
	"github.com/coditect/coditect/internal/worker"
)

// exportBundle is a fresh database with one organization, an export service over a
// temporary directory, and the organization's admin.
type exportBundle struct {
	store  *postgres.Store
	pool   *pgxpool.Pool
	admin  *pgxpool.Pool
	dir    string
	files  *storage.Dir
	svc    *export.Service
	tenant coditect.TenantID
	as     context.Context // the organization's admin
	system context.Context // the organization's system actor (what jobs run as)
}

func exportSetup(t *testing.T) exportBundle {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	bn := exportBundle{store: store, pool: postgrestest.Pool(t, db.AppURL), admin: postgrestest.Pool(t, db.AdminURL), dir: t.TempDir(),
		tenant: coditect.NewID[coditect.TenantID]()}
	files, err := storage.NewDir(bn.dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = files.Close() })
	bn.files = files
	bn.svc = export.NewService(postgres.ExportStore{Store: store}, files, export.Config{TempDir: t.TempDir()})
	bn.system = coditect.WithActor(context.Background(), coditect.SystemActor(bn.tenant))
	bn.as = coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: coditect.NewID[coditect.AccountID](),
		Tenant: bn.tenant, Role: coditect.RoleAdmin})
	require.NoError(t, store.InTx(bn.system, func(tx *postgres.Tx) error {
		_, err := tx.OrganizationCreate(bn.system, account.Organization{ID: bn.tenant, Slug: "exporter", Name: "Exporter"}, "exporter.test")
		return err
	}))
	return bn
}

// startExportWorker runs a worker with the export jobs registered until the test ends.
func startExportWorker(t *testing.T, bn exportBundle) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := worker.NewRegistry()
	worker.AddTenant(reg, &worker.ExportWorker{Exports: bn.svc, Log: log})
	worker.AddSystem(reg, &worker.ExportPurgeWorker{Exports: bn.svc, Log: log})
	reg.Every(time.Hour, func() coditect.Job { return worker.ExportPurgeArgs{} })
	w, err := worker.New(bn.pool, reg, worker.Config{Concurrency: 2}, log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, 10*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func (bn exportBundle) status(t *testing.T, id export.ID) export.Status {
	t.Helper()
	e, err := bn.svc.Export(bn.as, id)
	require.NoError(t, err)
	return e.Status
}

func (bn exportBundle) archiveFiles(t *testing.T) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	require.NoError(t, filepath.WalkDir(bn.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(bn.dir, p)
		if err != nil {
			return err
		}
		r, _, err := bn.files.Open(context.Background(), filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		defer r.Close()
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = [32]byte(h.Sum(nil))
		return nil
	}))
	return out
}

func TestExportJobIsIdempotent(t *testing.T) {
	t.Parallel()
	bn := exportSetup(t)
	startExportWorker(t, bn)

	e, err := bn.svc.RequestExport(bn.as)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return bn.status(t, e.ID) == export.StatusCompleted }, 30*time.Second, 50*time.Millisecond,
		"the job enqueued with the request produces the export")
	first := bn.archiveFiles(t)
	require.Len(t, first, 1)
	require.Contains(t, first, export.StorageKey(bn.tenant, e.ID))
	done, err := bn.svc.Export(bn.as, e.ID)
	require.NoError(t, err)

	// The worker was killed after storing the archive but before completing the export,
	// and River runs the job again.
	_, err = bn.admin.Exec(context.Background(), "UPDATE exports SET status = 'running', completed_at = NULL WHERE id = $1", e.ID.String())
	require.NoError(t, err)
	require.NoError(t, bn.store.InTx(bn.system, func(tx *postgres.Tx) error {
		return tx.Enqueue(bn.system, &export.ExportArgs{ExportID: e.ID})
	}))
	require.Eventually(t, func() bool { return bn.status(t, e.ID) == export.StatusCompleted }, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, first, bn.archiveFiles(t), "run twice: one archive, the same bytes")
	again, err := bn.svc.Export(bn.as, e.ID)
	require.NoError(t, err)
	require.Equal(t, done.Counts, again.Counts)
	require.Equal(t, done.SizeBytes, again.SizeBytes)

	// A third run of a completed export changes nothing.
	require.NoError(t, bn.store.InTx(bn.system, func(tx *postgres.Tx) error {
		return tx.Enqueue(bn.system, &export.ExportArgs{ExportID: e.ID})
	}))
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, bn.admin.QueryRow(context.Background(), "SELECT count(*) FROM river_job WHERE kind = 'export.run' AND state = 'completed'").Scan(&n))
		return n == 3
	}, 30*time.Second, 50*time.Millisecond)
	final, err := bn.svc.Export(bn.as, e.ID)
	require.NoError(t, err)
	require.Equal(t, again, final)
	require.Equal(t, first, bn.archiveFiles(t))
}

func TestExportPurgeJobRunsOnStart(t *testing.T) {
	t.Parallel()
	bn := exportSetup(t)
	e, err := bn.svc.RequestExport(bn.as)
	require.NoError(t, err)
	require.NoError(t, bn.svc.Run(bn.system, e.ID))
	require.Len(t, bn.archiveFiles(t), 1)
	_, err = bn.admin.Exec(context.Background(), "UPDATE export_files SET expires_at = now() - interval '1 minute'")
	require.NoError(t, err)
	_, err = bn.admin.Exec(context.Background(), "UPDATE exports SET expires_at = now() - interval '1 minute'")
	require.NoError(t, err)

	startExportWorker(t, bn)
	require.Eventually(t, func() bool { return len(bn.archiveFiles(t)) == 0 }, 30*time.Second, 50*time.Millisecond,
		"the periodic purge deleted the expired archive")
	got, err := bn.svc.Export(bn.as, e.ID)
	require.NoError(t, err)
	require.True(t, got.Expired)
}

// brokenFiles refuses every write.
type brokenFiles struct{ export.Files }

var errNoSpace = errors.New("no space left on /srv/private/device")

func (brokenFiles) Create(context.Context, string) (io.WriteCloser, error) { return nil, errNoSpace }

func TestExportJobGivesUpAfterItsAttempts(t *testing.T) {
	t.Parallel()
	bn := exportSetup(t)
	broken := export.NewService(postgres.ExportStore{Store: bn.store}, brokenFiles{bn.files}, export.Config{TempDir: t.TempDir()})
	w := &worker.ExportWorker{Exports: broken}
	e, err := bn.svc.RequestExport(bn.as)
	require.NoError(t, err)
	job := func(attempt int) *river.Job[export.ExportArgs] {
		return &river.Job[export.ExportArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: 25},
			Args: export.ExportArgs{TenantJob: coditect.TenantJob{TenantID: bn.tenant}, ExportID: e.ID}}
	}

	err = w.Work(bn.system, job(1))
	require.ErrorIs(t, err, errNoSpace)
	var cancelled *river.JobCancelError
	require.False(t, errors.As(err, &cancelled), "an early attempt is retried")
	require.Equal(t, export.StatusRunning, bn.status(t, e.ID))

	err = w.Work(bn.system, job(worker.ExportAttempts))
	require.True(t, errors.As(err, &cancelled), "the last attempt gives up: %v", err)
	got, err := bn.svc.Export(bn.as, e.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusFailed, got.Status)
	require.NotContains(t, got.Error, "/srv", "the message shown is safe")

	t.Run("an export that is gone is cancelled", func(t *testing.T) {
		err := w.Work(bn.system, &river.Job[export.ExportArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 25},
			Args: export.ExportArgs{ExportID: export.NewID()}})
		require.True(t, errors.As(err, &cancelled), "%v", err)
	})
}
