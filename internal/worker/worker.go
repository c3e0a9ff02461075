// Package worker runs the platform's background jobs on River (PostgreSQL is the
// queue: no second broker, and a job enqueued in a committed transaction is never
// lost). A middleware turns each job's tenant_id back into a tenant-scoped system
// actor, so service and store code cannot tell a job from a request.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/coditect/coditect/internal/coditect"
)

// Config tunes the worker process.
type Config struct {
	Concurrency int // jobs run at once; default 10
}

// Worker owns the River client that fetches and runs jobs.
type Worker struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger
}

// Registry collects job workers and periodic jobs before the Worker is built, so each
// feature can add its own.
type Registry struct {
	workers  *river.Workers
	periodic []*river.PeriodicJob
	system   map[string]bool // kinds that run with no tenant
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
	river.AddWorker(r.workers, w)
}

// AddSystem registers a worker for a declared system job: it runs with no tenant and
// can reach only the store's System… methods.
func AddSystem[T coditect.Job](r *Registry, w river.Worker[T]) {
	var args T
	r.system[args.Kind()] = true
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

// New builds a Worker on pool (the application role) from the registry.
func New(pool *pgxpool.Pool, reg *Registry, cfg Config, log *slog.Logger) (*Worker, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Concurrency}},
		Workers:      reg.workers,
		PeriodicJobs: reg.periodic,
		Middleware:   []rivertype.Middleware{&tenantMiddleware{system: reg.system}},
		Logger:       log,
		// REINDEX needs table ownership; the owner role's maintenance does it, not the app.
		ReindexerIndexNames: []string{},
		ErrorHandler:        &errorHandler{log: log},
	})
	if err != nil {
		return nil, err
	}
	return &Worker{client: client, log: log}, nil
}

// Run works jobs until ctx is cancelled, then stops fetching, gives running jobs up
// to grace to finish, and cancels the rest; River puts cancelled work back to be
// retried, so nothing is lost.
func (w *Worker) Run(ctx context.Context, grace time.Duration) error {
	if err := w.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
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
	case m.system[job.Kind]:
		ctx = coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorSystem})
	default:
		return river.JobCancel(errNoTenant) // retrying cannot fix it
	}
	return next(ctx)
}

// errorHandler logs failures and turns a panic into an ordinary failed attempt (River
// already recovers it; this keeps the stack in the log).
type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "job failed", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "error", err.Error())
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "panic", fmt.Sprint(v), "stack", trace)
	return nil
}
