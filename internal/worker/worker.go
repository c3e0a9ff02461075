// Package worker runs the platform's background jobs on River (PostgreSQL is the
// queue: no second broker, and a job enqueued in a committed transaction is never
// lost). A middleware turns each job's tenant_id back into a tenant-scoped system
// actor, so service and store code cannot tell a job from a request.
//
// # Fairness
//
// One tenant enqueuing 100,000 jobs must not starve the others. River OSS has no
// per-tenant (partition) concurrency limit, and a worker-side limit that snoozes a busy
// tenant's jobs would not help: River fetches in (priority, scheduled_at, id) order, so
// a quiet tenant's job stays behind the whole flood, which the workers would have to
// fetch and snooze one by one. Fairness is therefore decided when a job is enqueued:
// FairEnqueue, River insert middleware on every client that inserts, gives a tenant's
// job a priority from the number of that tenant's jobs already waiting (its backlog,
// counted through the partial index river_job_tenant_backlog of migration 0009, and
// stopping at 10,000):
//
//	backlog < 100      → priority 1 (River's default, the highest)
//	backlog < 1,000    → priority 2
//	backlog < 10,000   → priority 3
//	otherwise          → priority 4 (the lowest)
//
// never raising a priority the job's kind declares, and leaving system jobs alone.
// Within one insert call a tenant's jobs count each other, so a batch of 100,000 goes
// in as 100 jobs at priority 1, 900 at 2, 9,000 at 3 and the rest at 4.
//
// What this guarantees: River always fetches a waiting job of higher priority first,
// and each tenant holds at most about 100 waiting jobs at priority 1. A job of a
// tenant with fewer than 100 jobs waiting therefore starts after at most about 100
// jobs of each other busy tenant, plus the jobs already running, however large their
// floods. TestFairness measures it: tenant A enqueues 100,000 jobs, then tenant B one,
// and B's job finishes before A has finished more than 1,000 (it finishes after about
// 100 plus the worker's concurrency).
//
// What it costs: nothing on the worker side (no per-job check, no snoozing), so a tenant
// that floods while nobody else is waiting runs at full speed: priorities only reorder
// the queue. Enqueuing costs one indexed, bounded count per insert call, reused for a
// second per tenant. A flooding tenant's later jobs can wait behind lighter tenants'
// work for as long as lighter tenants keep the workers busy; that is the intended
// trade: a tenant's backlog yields to tenants with less waiting.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/telemetry"
)

// Config tunes the worker process. Zero values take the defaults.
type Config struct {
	Concurrency int // jobs run at once; default 10

	// ID names this worker in River (river_job.attempted_by, leadership); default: the
	// host name and start time.
	ID string

	// FetchCooldown and FetchPollInterval: how often River may fetch jobs, and how often
	// it polls when no insert notification arrives (River's defaults: 100 ms and 1 s).
	FetchCooldown, FetchPollInterval time.Duration

	// JobTimeout bounds one attempt of a job whose worker sets no Timeout (River's
	// default: 1 minute).
	JobTimeout time.Duration

	// RescueAfter: a job still running this long after it started is taken to belong
	// to a dead worker (killed, crashed, lost its database connection) and is retried
	// (River's default: 1 hour, and at least JobTimeout).
	RescueAfter time.Duration

	// Metrics, when set, records the job metrics; Run refreshes its queue-depth gauges
	// every DepthEvery (default DefaultDepthEvery).
	Metrics    *Metrics
	DepthEvery time.Duration

	// Fair, when set, is the fair-enqueue middleware for the jobs this worker inserts
	// itself (periodic jobs, fan-outs). The store's inserts need it too: see
	// postgres.Store.WithJobMiddleware.
	Fair *FairEnqueue

	// Middleware is added to River's, inside the metrics middleware and outside the
	// tenant middleware (tracing, tests).
	Middleware []rivertype.Middleware
}

// Failed jobs are kept this long (River's default is a week for discarded jobs and a
// day for cancelled ones) so `coditect jobs list` can show them and `retry` can revive
// them.
const failedJobRetention = 30 * 24 * time.Hour

// Worker owns the River client that fetches and runs jobs.
type Worker struct {
	client     *river.Client[pgx.Tx]
	log        *slog.Logger
	metrics    *Metrics
	depthEvery time.Duration
	stopping   atomic.Bool
}

// Registry collects job workers and periodic jobs before the Worker is built, so each
// feature can add its own.
type Registry struct {
	workers  *river.Workers
	periodic []*river.PeriodicJob
	system   map[string]bool // kinds that run with no tenant
	kinds    []string        // every registered kind, for the metrics' initial series
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{workers: river.NewWorkers(), system: map[string]bool{}}
}

// AddTenant registers a worker for jobs that belong to one tenant (their args embed
// coditect.TenantJob). It runs with a tenant-scoped system actor in its context.
func AddTenant[T coditect.Job, PT interface {
	*T
	coditect.TenantBoundJob
}](r *Registry, w river.Worker[T]) {
	var args T
	r.kinds = append(r.kinds, args.Kind())
	river.AddWorker(r.workers, w)
}

// AddSystem registers a worker for a declared system job: it runs with no tenant and
// can reach only the store's System… methods.
func AddSystem[T coditect.Job](r *Registry, w river.Worker[T]) {
	var args T
	r.system[args.Kind()] = true
	r.kinds = append(r.kinds, args.Kind())
	river.AddWorker(r.workers, w)
}

// Every schedules a system job to be enqueued every interval, once across all worker
// replicas (only River's elected leader enqueues periodic jobs).
func (r *Registry) Every(interval time.Duration, job func() coditect.Job) {
	var kind string
	if j := job(); j != nil {
		kind = j.Kind()
	}
	r.periodic = append(r.periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			// Unique per period, so a leader change mid-period cannot double it.
			return job(), &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		}, &river.PeriodicJobOpts{ID: kind, RunOnStart: true}))
}

// Weekly schedules a system job every week on day at the time of day at (UTC), once
// across all worker replicas: only River's elected leader enqueues periodic jobs, and
// the insert is unique by the job's arguments, so neither a leader change nor a
// restart doubles it while its row is kept (a day once completed). It also runs when a
// worker becomes
// leader, so a run missed while no worker was up happens late rather than never: the
// job must tolerate being run again (put the period it is for in its arguments and
// make its effect idempotent, as the weekly report does).
func (r *Registry) Weekly(day time.Weekday, at time.Duration, job func() coditect.Job) {
	var kind string
	if j := job(); j != nil {
		kind = j.Kind()
	}
	r.periodic = append(r.periodic, river.NewPeriodicJob(WeeklySchedule(day, at),
		func() (river.JobArgs, *river.InsertOpts) {
			return job(), &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
		}, &river.PeriodicJobOpts{ID: kind, RunOnStart: true}))
}

// WeeklySchedule is a river.PeriodicSchedule firing every week on day at the time of
// day at, in UTC (calendar times, not an interval from when the worker started).
func WeeklySchedule(day time.Weekday, at time.Duration) river.PeriodicSchedule {
	return weekly{day: day, at: at}
}

type weekly struct {
	day time.Weekday
	at  time.Duration
}

// Next implements river.PeriodicSchedule: the first firing strictly after t.
func (w weekly) Next(t time.Time) time.Time {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	days := (int(w.day) - int(t.Weekday()) + 7) % 7
	next := midnight.AddDate(0, 0, days).Add(w.at)
	if !next.After(t) {
		next = next.AddDate(0, 0, 7)
	}
	return next
}

// New builds a Worker on pool (the application role) from the registry.
func New(pool *pgxpool.Pool, reg *Registry, cfg Config, log *slog.Logger) (*Worker, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	w := &Worker{log: log, metrics: cfg.Metrics, depthEvery: cmpOr(cfg.DepthEvery, DefaultDepthEvery)}
	var mw []rivertype.Middleware
	if cfg.Fair != nil {
		mw = append(mw, cfg.Fair)
	}
	if cfg.Metrics != nil {
		mw = append(mw, &metricsMiddleware{m: cfg.Metrics, stopping: &w.stopping})
		cfg.Metrics.initKinds(reg.kinds)
	}
	mw = append(mw, cfg.Middleware...)
	mw = append(mw, &tenantMiddleware{system: reg.system})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                          cfg.ID,
		Queues:                      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Concurrency}},
		Workers:                     reg.workers,
		PeriodicJobs:                reg.periodic,
		Middleware:                  mw,
		Logger:                      log,
		FetchCooldown:               cfg.FetchCooldown,
		FetchPollInterval:           cfg.FetchPollInterval,
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		DiscardedJobRetentionPeriod: failedJobRetention,
		CancelledJobRetentionPeriod: failedJobRetention,
		// REINDEX needs table ownership; the owner role's maintenance does it, not the app.
		ReindexerIndexNames: []string{},
		ErrorHandler:        &errorHandler{log: log, metrics: cfg.Metrics},
	})
	if err != nil {
		return nil, err
	}
	w.client = client
	return w, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Run works jobs until ctx is cancelled, then stops fetching, gives running jobs up
// to grace to finish, and cancels the rest; River puts cancelled work back to be
// retried, so nothing is lost.
//
// A job still running after the grace period has its context cancelled: one that
// returns then (as every job should, on ctx.Done) is put back as available without
// spending an attempt, for this or another worker to run again. One that ignores its
// context is left running in the database when Run gives up on it, and is retried
// once it has run for Config.RescueAfter, as for a worker that was killed. Either way
// a job may run again after doing part or all of its work, so jobs are idempotent.
func (w *Worker) Run(ctx context.Context, grace time.Duration) error {
	if err := w.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	var bg sync.WaitGroup
	if w.metrics != nil {
		bg.Go(func() { w.metrics.refreshDepth(ctx, w.depthEvery, w.log) })
	}
	defer bg.Wait()
	<-ctx.Done()
	w.stopping.Store(true)
	stopCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := w.client.Stop(stopCtx); err != nil {
		w.log.Warn("worker: jobs still running after the grace period; cancelling them", "grace", grace.String())
		hard, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return w.client.StopAndCancel(hard)
	}
	return nil
}

// tenantMiddleware restores the actor a job runs as from its arguments.
type tenantMiddleware struct {
	river.MiddlewareDefaults
	system map[string]bool
}

var errNoTenant = errors.New("job has no tenant_id and is not a declared system job")

// Work implements rivertype.WorkerMiddleware.
func (m *tenantMiddleware) Work(ctx context.Context, job *rivertype.JobRow, next func(ctx context.Context) error) error {
	var args struct {
		TenantID *coditect.TenantID `json:"tenant_id"`
	}
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return river.JobCancel(fmt.Errorf("decode job args: %w", err))
	}
	switch {
	case args.TenantID != nil && !args.TenantID.IsZero():
		ctx = coditect.WithActor(ctx, coditect.SystemActor(*args.TenantID))
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(telemetry.AttrTenantID.String(args.TenantID.String()))
		}
	case m.system[job.Kind]:
		ctx = coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorSystem})
	default:
		return river.JobCancel(errNoTenant) // retrying cannot fix it
	}
	return next(ctx)
}

// errorHandler logs failures and turns a panic into an ordinary failed attempt (River
// already recovers it; this keeps the stack in the log).
type errorHandler struct {
	log     *slog.Logger
	metrics *Metrics
}

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "job failed", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "error", err.Error())
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.metrics.panicked(job.Kind)
	h.log.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "panic", fmt.Sprint(v), "stack", trace)
	return nil
}
