package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// PurgeArgs is the periodic system job that deletes expired sessions and idempotency
// keys.
type PurgeArgs struct{}

// Kind implements coditect.Job.
func (PurgeArgs) Kind() string { return "maintenance.purge_expired" }

// Purger is what the purge job needs from the store.
type Purger interface {
	SystemPurgeExpiredSessions(ctx context.Context) (int64, error)
	SystemPurgeExpiredIdempotencyKeys(ctx context.Context) (int64, error)
	SystemPurgeExpiredEmailTokens(ctx context.Context) (int64, error)
	SystemPurgeTenantActivity(ctx context.Context, before time.Time) (int64, error)
}

// activityKept is how long a tenant's last-activity mark is kept: longer than the
// business gauges look back (usage.ActiveWindow).
const activityKept = 48 * time.Hour

// PurgeWorker runs PurgeArgs.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	Store Purger
	Log   *slog.Logger
}

// Work implements river.Worker.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	sessions, err := w.Store.SystemPurgeExpiredSessions(ctx)
	if err != nil {
		return err
	}
	keys, err := w.Store.SystemPurgeExpiredIdempotencyKeys(ctx)
	if err != nil {
		return err
	}
	tokens, err := w.Store.SystemPurgeExpiredEmailTokens(ctx)
	if err != nil {
		return err
	}
	activity, err := w.Store.SystemPurgeTenantActivity(ctx, time.Now().Add(-activityKept))
	if err != nil {
		return err
	}
	w.Log.InfoContext(ctx, "purged expired rows", "sessions", sessions, "idempotency_keys", keys, "email_tokens", tokens, "tenant_activity", activity)
	return nil
}
