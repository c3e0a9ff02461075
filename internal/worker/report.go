package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/jobs"
	"github.com/coditect/coditect/internal/mail"
)

// The weekly activity report: every organization's admins and owners get a summary of
// the last week (tasks created and completed, active members).
//
//  1. WeeklyReportFanOutArgs, a system job scheduled weekly (Registry.Weekly), pages
//     through every tenant in the global slug lookup, ReportFanOutBatch at a time, and
//     inserts one WeeklyReportArgs per tenant, one transaction per batch: never one
//     giant transaction, and a retry after a failed batch re-inserts nothing already
//     inserted (the per-tenant job is unique per tenant and week).
//  2. WeeklyReportArgs, a tenant job, computes the summary with tenant-scoped reads and,
//     in one transaction, records "report.weekly_sent" for the week in the tenant's
//     audit log and enqueues one email job per recipient. The audit row makes the
//     report once per tenant per week durable (River's unique jobs only last while the
//     rows are kept): a second run of the week finds it and does nothing.
//  3. WeeklyReportMailArgs sends one recipient's email through a Mailer, retried on its
//     own, so a failure to reach one admin never re-sends to the others.

// Job kinds of the weekly report.
const (
	KindWeeklyReportFanOut = "report.weekly_fanout"
	KindWeeklyReport       = "report.weekly"
	KindWeeklyReportMail   = "report.weekly_mail"
)

// MailWeeklyReport is the email kind the report is sent as (templates
// internal/mail/templates/weekly_report.{txt,html}, data WeeklyReportData).
const MailWeeklyReport = "weekly_report"

// ActionWeeklyReportSent is the audit action recording that a week's report went out;
// its target id is the week ("2026-W17").
const ActionWeeklyReportSent = "report.weekly_sent"

// ReportFanOutBatch is how many tenants one fan-out transaction enqueues.
const ReportFanOutBatch = 500

// reportLateness is how long after its week a report is still sent: a fan-out that
// runs later (a worker becoming leader mid-week) does nothing.
const reportLateness = 2 * 24 * time.Hour

// ReportWeek returns the last full ISO week (Monday 00:00 to Monday 00:00 UTC) ended
// by t, as "2026-W17".
func ReportWeek(t time.Time) string {
	t = t.UTC()
	monday := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
	y, w := monday.AddDate(0, 0, -7).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// WeekBounds returns the start (Monday 00:00 UTC) and end (the next Monday) of an ISO
// week written as ReportWeek writes it.
func WeekBounds(week string) (start, end time.Time, err error) {
	var y, w int
	if n, err := fmt.Sscanf(week, "%04d-W%02d", &y, &w); err != nil || n != 2 || len(week) != 8 {
		return time.Time{}, time.Time{}, fmt.Errorf("week %q: want YYYY-Www", week)
	}
	jan4 := time.Date(y, time.January, 4, 0, 0, 0, 0, time.UTC) // always in ISO week 1
	start = jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+7*(w-1))
	if gy, gw := start.ISOWeek(); gy != y || gw != w {
		return time.Time{}, time.Time{}, fmt.Errorf("week %q does not exist", week)
	}
	return start, start.AddDate(0, 0, 7), nil
}

// WeeklyReportFanOutArgs is the weekly system job that enqueues every tenant's report
// for Week.
type WeeklyReportFanOutArgs struct {
	Week string `json:"week"`
}

// Kind implements coditect.Job.
func (WeeklyReportFanOutArgs) Kind() string { return KindWeeklyReportFanOut }

// InsertOpts: unique per week (the args), a few attempts (each resumes cheaply:
// inserted jobs are skipped as duplicates), at background priority.
func (WeeklyReportFanOutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, Priority: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// WeeklyReportFanOut returns the fan-out job for the week that ended last, for
// Registry.Weekly: reg.Weekly(time.Monday, 6*time.Hour, worker.WeeklyReportFanOut).
func WeeklyReportFanOut() coditect.Job { return WeeklyReportFanOutArgs{Week: ReportWeek(time.Now())} }

// TenantPager pages through every tenant (postgres.Store.SystemTenantPage).
type TenantPager interface {
	SystemTenantPage(ctx context.Context, afterSlug string, limit int) ([]jobs.TenantRef, error)
}

// WeeklyReportFanOutWorker runs WeeklyReportFanOutArgs; register with AddSystem.
type WeeklyReportFanOutWorker struct {
	river.WorkerDefaults[WeeklyReportFanOutArgs]
	Tenants TenantPager
	Batch   int // tenants per transaction; ReportFanOutBatch when zero
	Log     *slog.Logger
	Now     func() time.Time // time.Now when nil
}

// Timeout implements river.Worker: a fan-out over many tenants takes a while.
func (w *WeeklyReportFanOutWorker) Timeout(*river.Job[WeeklyReportFanOutArgs]) time.Duration {
	return 30 * time.Minute
}

// Work implements river.Worker.
func (w *WeeklyReportFanOutWorker) Work(ctx context.Context, job *river.Job[WeeklyReportFanOutArgs]) error {
	_, end, err := WeekBounds(job.Args.Week)
	if err != nil {
		return river.JobCancel(err)
	}
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now.After(end.Add(reportLateness)) {
		log.InfoContext(ctx, "weekly report: too late to send, skipped", "week", job.Args.Week)
		return nil
	}
	batch := w.Batch
	if batch <= 0 {
		batch = ReportFanOutBatch
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	var after string
	var tenants, inserted int
	for {
		page, err := w.Tenants.SystemTenantPage(ctx, after, batch)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		params := make([]river.InsertManyParams, len(page))
		for i, t := range page {
			params[i] = river.InsertManyParams{Args: WeeklyReportArgs{TenantJob: coditect.TenantJob{TenantID: t.TenantID}, Week: job.Args.Week}}
		}
		res, err := client.InsertMany(ctx, params) // one transaction per batch
		if err != nil {
			return fmt.Errorf("enqueue weekly reports after %q: %w", after, err)
		}
		for _, r := range res {
			if !r.UniqueSkippedAsDuplicate {
				inserted++
			}
		}
		tenants += len(page)
		after = page[len(page)-1].Slug
		if len(page) < batch {
			break
		}
	}
	log.InfoContext(ctx, "weekly report: enqueued", "week", job.Args.Week, "tenants", tenants, "new_jobs", inserted)
	return nil
}

// WeeklyReportArgs is one tenant's weekly report for Week.
type WeeklyReportArgs struct {
	coditect.TenantJob
	Week string `json:"week"`
}

// Kind implements coditect.Job.
func (WeeklyReportArgs) Kind() string { return KindWeeklyReport }

// InsertOpts: unique per tenant and week (the args), five attempts, background
// priority (fair enqueue may lower it further, never raise it).
func (WeeklyReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Priority: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReportStore is what the per-tenant report job needs (postgres.Store).
type ReportStore interface {
	OrganizationGet(ctx context.Context) (account.Organization, error)
	ReportActivity(ctx context.Context, since, until time.Time) (jobs.Activity, error)
	ReportRecipients(ctx context.Context) ([]jobs.Recipient, error)
	ReportRecordOnce(ctx context.Context, action, target string, since time.Time, changes any,
		enqueue []coditect.TenantBoundJob) (bool, error)
}

// WeeklyReportData fills the weekly_report email. It holds no secret.
type WeeklyReportData struct {
	Name             string `json:"name"`              // the recipient's name
	OrganizationName string `json:"organization_name"` // the organization reported on
	Week             string `json:"week"`              // "2026-W17"
	FirstDay         string `json:"first_day"`         // "2026-04-20", the week's Monday (UTC)
	LastDay          string `json:"last_day"`          // "2026-04-26", its Sunday
	TasksCreated     int64  `json:"tasks_created"`
	TasksCompleted   int64  `json:"tasks_completed"`
	ActiveMembers    int64  `json:"active_members"`
	URL              string `json:"url"` // where to see more: the application's base URL
}

// WeeklyReportWorker runs WeeklyReportArgs; register with AddTenant.
type WeeklyReportWorker struct {
	river.WorkerDefaults[WeeklyReportArgs]
	Store   ReportStore
	BaseURL string
	Log     *slog.Logger
}

// Work implements river.Worker.
func (w *WeeklyReportWorker) Work(ctx context.Context, job *river.Job[WeeklyReportArgs]) error {
	start, end, err := WeekBounds(job.Args.Week)
	if err != nil {
		return river.JobCancel(err)
	}
	org, err := w.Store.OrganizationGet(ctx)
	if coditect.IsNotFound(err) {
		return nil // deleted since the fan-out: nothing to report
	}
	if err != nil {
		return err
	}
	act, err := w.Store.ReportActivity(ctx, start, end)
	if err != nil {
		return err
	}
	rcpts, err := w.Store.ReportRecipients(ctx)
	if err != nil {
		return err
	}
	mails := make([]coditect.TenantBoundJob, 0, len(rcpts))
	for _, r := range rcpts {
		mails = append(mails, &WeeklyReportMailArgs{To: r.Email, Data: WeeklyReportData{
			Name: r.Name, OrganizationName: org.Name, Week: job.Args.Week,
			FirstDay: start.Format(time.DateOnly), LastDay: end.AddDate(0, 0, -1).Format(time.DateOnly),
			TasksCreated: act.TasksCreated, TasksCompleted: act.TasksCompleted, ActiveMembers: act.ActiveMembers, URL: w.BaseURL,
		}})
	}
	sent, err := w.Store.ReportRecordOnce(ctx, ActionWeeklyReportSent, job.Args.Week, start, map[string]any{
		"week": job.Args.Week, "recipients": len(mails),
		"tasks_created": act.TasksCreated, "tasks_completed": act.TasksCompleted, "active_members": act.ActiveMembers,
	}, mails)
	if err != nil {
		return err
	}
	if w.Log != nil {
		w.Log.InfoContext(ctx, "weekly report", "week", job.Args.Week, "recipients", len(mails), "already_sent", !sent)
	}
	return nil
}

// WeeklyReportMailArgs is one recipient's weekly report email.
type WeeklyReportMailArgs struct {
	coditect.TenantJob
	To   string           `json:"to"`
	Data WeeklyReportData `json:"data"`
}

// Kind implements coditect.Job.
func (WeeklyReportMailArgs) Kind() string { return KindWeeklyReportMail }

// InsertOpts: ten attempts, as for other mail, so an SMTP outage delays the report
// rather than losing it.
func (WeeklyReportMailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, Priority: 3}
}

// Mailer renders an email kind and sends it (mail.Templated).
type Mailer interface {
	Mail(ctx context.Context, kind, to string, data any) error
}

// WeeklyReportMailWorker runs WeeklyReportMailArgs; register with AddTenant.
type WeeklyReportMailWorker struct {
	river.WorkerDefaults[WeeklyReportMailArgs]
	Mailer Mailer
}

// Work implements river.Worker. A permanent failure (the server refused the address)
// cancels the job; any other error is retried.
func (w *WeeklyReportMailWorker) Work(ctx context.Context, job *river.Job[WeeklyReportMailArgs]) error {
	err := w.Mailer.Mail(ctx, MailWeeklyReport, job.Args.To, job.Args.Data)
	if errors.Is(err, mail.ErrPermanent) {
		return river.JobCancel(err)
	}
	return err
}
