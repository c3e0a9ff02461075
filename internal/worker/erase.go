package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
)

// EraseWorker runs account.EraseArgs: it erases every row of a deleted organization,
// a batch per transaction, then frees its slug and domains. It is a tenant job (its
// context carries the tenant's system actor). A crash, a timeout or a failed batch
// loses at most the batch in flight: River retries the job and the eraser carries on
// from the last committed batch.
type EraseWorker struct {
	river.WorkerDefaults[account.EraseArgs]
	Store account.ErasureStore
	Log   *slog.Logger
	Batch int // rows per transaction; account.DefaultEraseBatch when zero
}

// eraseTimeout bounds one attempt. A larger tenant simply takes several attempts:
// each resumes where the last stopped.
const eraseTimeout = 30 * time.Minute

// Timeout implements river.Worker: erasing a large tenant takes longer than River's
// default minute.
func (w *EraseWorker) Timeout(*river.Job[account.EraseArgs]) time.Duration { return eraseTimeout }

// Work implements river.Worker.
func (w *EraseWorker) Work(ctx context.Context, job *river.Job[account.EraseArgs]) error {
	d, err := account.EraseTenant(ctx, w.Store, w.Batch)
	if err != nil {
		if coditect.IsNotFound(err) {
			// No deletion record: the organization was never deleted. Retrying
			// cannot change that, and a live tenant is never erased.
			return river.JobCancel(err)
		}
		return err
	}
	if w.Log != nil {
		w.Log.InfoContext(ctx, "organization erased", "tenant_id", d.OrganizationID.String(), "rows_deleted", d.RowsDeleted,
			"attempt", job.Attempt)
	}
	return nil
}
