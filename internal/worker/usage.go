package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// KindUsageRollup is the usage roll-up's job kind.
const KindUsageRollup = "usage.rollup"

// UsageRollupArgs is the hourly system job that rolls every tenant's API-call hours
// before the current one up into days (usage.Rollup). Register with AddSystem and
// schedule with
//
//	reg.Every(time.Hour, worker.UsageRollup)
type UsageRollupArgs struct{}

// Kind implements coditect.Job.
func (UsageRollupArgs) Kind() string { return KindUsageRollup }

// InsertOpts: a few attempts (a retry redoes only the tenants still on the work list),
// at background priority. Registry.Every adds uniqueness per period.
func (UsageRollupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Priority: 3}
}

// UsageRollup returns the roll-up job, for Registry.Every.
func UsageRollup() coditect.Job { return UsageRollupArgs{} }

// UsageRollupWorker runs UsageRollupArgs; register with AddSystem.
type UsageRollupWorker struct {
	river.WorkerDefaults[UsageRollupArgs]
	Store usage.RollupStore
	Batch int              // tenants per page of the work list; usage.RollupBatch when zero
	Now   func() time.Time // time.Now when nil
	Log   *slog.Logger
}

// Timeout implements river.Worker: one transaction per tenant with usage, which can be
// many.
func (w *UsageRollupWorker) Timeout(*river.Job[UsageRollupArgs]) time.Duration {
	return 30 * time.Minute
}

// Work implements river.Worker. A tenant whose roll-up fails is left as it was and the
// job fails after the others are done, to be retried; rolling up again never counts a
// call twice.
func (w *UsageRollupWorker) Work(ctx context.Context, _ *river.Job[UsageRollupArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	res, err := usage.Rollup(ctx, w.Store, now, w.Batch)
	if w.Log != nil {
		w.Log.InfoContext(ctx, "usage roll-up", "before", usage.Hour(now).Format(time.RFC3339), "tenants", res.Tenants,
			"failed", res.Failed, "hours", res.Hours, "days", res.Days, "api_calls", res.APICalls)
	}
	return err
}
