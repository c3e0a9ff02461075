package worker

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
)

// Biller is what the billing jobs need from billing.Service.
type Biller interface {
	ProcessEvent(ctx context.Context, id string) error
	SyncSeats(ctx context.Context) error
	Downgrade(ctx context.Context, grace time.Duration) error
	ReportUsage(ctx context.Context) error
	CancelSubscription(ctx context.Context, id string) error
}

// StripeEventWorker runs billing.ProcessEventArgs, a system job: it applies one
// recorded Stripe webhook event. A failure is retried with River's backoff (25
// attempts over days), so a transient error never loses an event.
type StripeEventWorker struct {
	river.WorkerDefaults[billing.ProcessEventArgs]
	Billing Biller
}

// Work implements river.Worker. An event that is not recorded (erased) is cancelled.
func (w *StripeEventWorker) Work(ctx context.Context, job *river.Job[billing.ProcessEventArgs]) error {
	err := w.Billing.ProcessEvent(ctx, job.Args.EventID)
	if coditect.IsNotFound(err) {
		return river.JobCancel(err)
	}
	return err
}

// SeatSyncWorker runs billing.SeatSyncArgs, a tenant job.
type SeatSyncWorker struct {
	river.WorkerDefaults[billing.SeatSyncArgs]
	Billing Biller
}

// Work implements river.Worker.
func (w *SeatSyncWorker) Work(ctx context.Context, _ *river.Job[billing.SeatSyncArgs]) error {
	return w.Billing.SyncSeats(ctx)
}

// DowngradeWorker runs billing.DowngradeArgs, a tenant job; run before its time it
// snoozes until the grace period ends.
type DowngradeWorker struct {
	river.WorkerDefaults[billing.DowngradeArgs]
	Billing Biller
}

// Work implements river.Worker.
func (w *DowngradeWorker) Work(ctx context.Context, job *river.Job[billing.DowngradeArgs]) error {
	err := w.Billing.Downgrade(ctx, job.Args.Grace)
	if at, ok := billing.IsNotDue(err); ok {
		return river.JobSnooze(time.Until(at) + time.Second)
	}
	return err
}

// UsageReportWorker runs billing.ReportUsageArgs, the periodic system job that reports
// API calls to Stripe's meter; schedule it with reg.Every.
type UsageReportWorker struct {
	river.WorkerDefaults[billing.ReportUsageArgs]
	Billing Biller
}

// Timeout implements river.Worker: one Stripe call per tenant and day not yet reported.
func (w *UsageReportWorker) Timeout(*river.Job[billing.ReportUsageArgs]) time.Duration {
	return 30 * time.Minute
}

// Work implements river.Worker.
func (w *UsageReportWorker) Work(ctx context.Context, _ *river.Job[billing.ReportUsageArgs]) error {
	return w.Billing.ReportUsage(ctx)
}

// CancelSubscriptionWorker runs billing.CancelSubscriptionArgs, the tenant job that
// cancels a deleted organization's subscription at Stripe; a failure retries with
// River's backoff.
type CancelSubscriptionWorker struct {
	river.WorkerDefaults[billing.CancelSubscriptionArgs]
	Billing Biller
}

// Work implements river.Worker.
func (w *CancelSubscriptionWorker) Work(ctx context.Context, job *river.Job[billing.CancelSubscriptionArgs]) error {
	return w.Billing.CancelSubscription(ctx, job.Args.SubscriptionID)
}
