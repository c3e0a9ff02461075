package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
)

// Exporter is what the export jobs need from the export service.
type Exporter interface {
	Run(ctx context.Context, id export.ID) error
	Fail(ctx context.Context, id export.ID, cause error) error
	PurgeExpired(ctx context.Context) (int, error)
}

// exportTimeout bounds one attempt of an export; the archive of a very large tenant
// may take minutes.
const exportTimeout = 30 * time.Minute

// ExportAttempts is how many times an export is tried before it is marked failed and
// its job cancelled (River's default of 25 attempts spans weeks; an admin waiting for
// a download should hear within the hour).
const ExportAttempts = 5

// ExportWorker runs export.ExportArgs: it produces one export's archive (see
// export.Service.Run). It is a tenant job. A crashed or failed attempt is retried and
// overwrites the same archive, so the export happens once; after ExportAttempts
// attempts the export is marked failed with a safe message and the job cancelled,
// keeping its errors.
type ExportWorker struct {
	river.WorkerDefaults[export.ExportArgs]
	Exports Exporter
	Log     *slog.Logger
}

// Timeout implements river.Worker.
func (w *ExportWorker) Timeout(*river.Job[export.ExportArgs]) time.Duration { return exportTimeout }

// Work implements river.Worker.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[export.ExportArgs]) error {
	id := job.Args.ExportID
	err := w.Exports.Run(ctx, id)
	if err == nil {
		return nil
	}
	if coditect.IsNotFound(err) {
		// The export (or its organization) is gone: retrying cannot bring it back.
		return river.JobCancel(err)
	}
	if job.Attempt >= min(ExportAttempts, job.MaxAttempts) {
		if ferr := w.Exports.Fail(context.WithoutCancel(ctx), id, err); ferr != nil {
			return ferr // try again: the export must not stay "running" forever
		}
		if w.Log != nil {
			w.Log.ErrorContext(ctx, "export failed", "export_id", id.String(), "attempt", job.Attempt, "error", err.Error())
		}
		return river.JobCancel(err)
	}
	return err
}

// ExportPurgeArgs is the periodic system job that deletes expired export archives.
type ExportPurgeArgs struct{}

// Kind implements coditect.Job.
func (ExportPurgeArgs) Kind() string { return "maintenance.purge_exports" }

// ExportPurgeWorker runs ExportPurgeArgs (see export.Service.PurgeExpired).
type ExportPurgeWorker struct {
	river.WorkerDefaults[ExportPurgeArgs]
	Exports Exporter
	Log     *slog.Logger
}

// Work implements river.Worker.
func (w *ExportPurgeWorker) Work(ctx context.Context, _ *river.Job[ExportPurgeArgs]) error {
	n, err := w.Exports.PurgeExpired(ctx)
	if w.Log != nil && n > 0 {
		w.Log.InfoContext(ctx, "purged expired exports", "files", n)
	}
	return err
}
