package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/jobs"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// flakyArgs is a tenant job that fails while its worker's fail flag is set.
type flakyArgs struct {
	coditect.TenantJob
	Note string `json:"note"`
}

func (flakyArgs) Kind() string { return "test.flaky" }

// InsertOpts: one attempt, so a failure is discarded at once.
func (flakyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

type flakyWorker struct {
	river.WorkerDefaults[flakyArgs]
	fail atomic.Bool
}

func (w *flakyWorker) Work(context.Context, *river.Job[flakyArgs]) error {
	if w.fail.Load() {
		return errors.New("smtp: 451 try again later")
	}
	return nil
}

type bundle struct {
	admin  *jobs.Admin
	store  *postgres.Store
	pool   *pgxpool.Pool
	super  *pgxpool.Pool // superuser, to arrange rows
	tenant coditect.TenantID
	ctx    context.Context
}

func setup(t *testing.T) bundle {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	pool := postgrestest.Pool(t, db.AppURL)
	a, err := jobs.NewAdmin(pool)
	require.NoError(t, err)
	tenant := coditect.NewID[coditect.TenantID]()
	return bundle{admin: a, store: store, pool: pool, super: postgrestest.Pool(t, db.AdminURL), tenant: tenant, ctx: coditect.WithActor(context.Background(), coditect.SystemActor(tenant))}
}

func (bn bundle) enqueue(t *testing.T, args *flakyArgs) {
	t.Helper()
	require.NoError(t, bn.store.InTx(bn.ctx, func(tx *postgres.Tx) error { return tx.Enqueue(bn.ctx, args) }))
}

func startWorker(t *testing.T, bn bundle, w *flakyWorker) {
	t.Helper()
	reg := worker.NewRegistry()
	worker.AddTenant(reg, w)
	wk, err := worker.New(bn.pool, reg, worker.Config{Concurrency: 2, FetchCooldown: 10 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wk.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func listOne(t *testing.T, bn bundle, f jobs.Filter) jobs.JobInfo {
	t.Helper()
	list, err := bn.admin.List(context.Background(), f)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0]
}

func TestDiscardedJobIsListedWithItsErrorAndRetried(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	w := &flakyWorker{}
	w.fail.Store(true)
	bn.enqueue(t, &flakyArgs{Note: "report"})
	startWorker(t, bn, w)

	require.Eventually(t, func() bool {
		list, err := bn.admin.List(ctx, jobs.Filter{State: "discarded"})
		return err == nil && len(list) == 1
	}, 15*time.Second, 20*time.Millisecond)
	j := listOne(t, bn, jobs.Filter{State: "discarded", Kind: "test.flaky"})
	require.Equal(t, "test.flaky", j.Kind)
	require.Equal(t, "discarded", j.State)
	require.Equal(t, 1, j.Attempt)
	require.Equal(t, 1, j.MaxAttempts)
	require.Equal(t, 1, j.Errors)
	require.Equal(t, "smtp: 451 try again later", j.LastError, "the failure keeps its error")
	require.Equal(t, bn.tenant.String(), j.TenantID)
	require.NotNil(t, j.FinalizedAt)

	other, err := bn.admin.List(ctx, jobs.Filter{State: "discarded", Kind: "mail.send"})
	require.NoError(t, err)
	require.Empty(t, other, "the kind filter applies")

	var out bytes.Buffer
	require.NoError(t, jobs.Command(ctx, bn.admin, []string{"list", "--state", "discarded"}, &out, io.Discard))
	require.Contains(t, out.String(), "smtp: 451 try again later")
	require.Contains(t, out.String(), strconv.FormatInt(j.ID, 10))
	out.Reset()
	require.NoError(t, jobs.Command(ctx, bn.admin, []string{"list", "--kind", "test.flaky", "--json"}, &out, io.Discard))
	var decoded jobs.JobInfo
	require.NoError(t, json.Unmarshal(out.Bytes(), &decoded))
	require.Equal(t, j.ID, decoded.ID)

	// The cause is fixed; the operator retries it and it completes.
	w.fail.Store(false)
	out.Reset()
	require.NoError(t, jobs.Command(ctx, bn.admin, []string{"retry", strconv.FormatInt(j.ID, 10)}, &out, io.Discard))
	require.Contains(t, out.String(), "available")
	require.Eventually(t, func() bool {
		list, err := bn.admin.List(ctx, jobs.Filter{State: "completed"})
		return err == nil && len(list) == 1 && list[0].ID == j.ID
	}, 15*time.Second, 20*time.Millisecond, "the retried job runs again and completes")
	j = listOne(t, bn, jobs.Filter{Kind: "test.flaky"})
	require.Equal(t, 2, j.Attempt)
	require.Equal(t, 2, j.MaxAttempts, "River grants the retry one more attempt")
}

func TestCancelScheduledJob(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	inserter, err := river.NewClient(riverpgxv5.New(bn.pool), &river.Config{})
	require.NoError(t, err)
	res, err := inserter.Insert(ctx, flakyArgs{TenantJob: coditect.TenantJob{TenantID: bn.tenant}, Note: "later"},
		&river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "scheduled", listOne(t, bn, jobs.Filter{}).State)

	var out bytes.Buffer
	require.NoError(t, jobs.Command(ctx, bn.admin, []string{"cancel", strconv.FormatInt(res.Job.ID, 10)}, &out, io.Discard))
	require.Contains(t, out.String(), "cancelled")
	j := listOne(t, bn, jobs.Filter{State: "cancelled"})
	require.Equal(t, res.Job.ID, j.ID)
	require.NotNil(t, j.FinalizedAt)

	// It never runs, even with a worker up and its time come.
	_, err = bn.super.Exec(ctx,
		"UPDATE river_job SET scheduled_at = now() - interval '1 minute' WHERE id = $1", j.ID)
	require.NoError(t, err)
	w := &flakyWorker{}
	startWorker(t, bn, w)
	bn.enqueue(t, &flakyArgs{Note: "now"}) // a job that does run, to know the worker is working
	require.Eventually(t, func() bool {
		list, err := bn.admin.List(ctx, jobs.Filter{State: "completed"})
		return err == nil && len(list) == 1
	}, 15*time.Second, 20*time.Millisecond)
	require.Equal(t, "cancelled", listOne(t, bn, jobs.Filter{State: "cancelled"}).State)
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	_, err := bn.admin.List(ctx, jobs.Filter{State: "sleeping"})
	require.ErrorIs(t, err, jobs.ErrInvalid)
	_, err = bn.admin.List(ctx, jobs.Filter{Limit: jobs.MaxLimit + 1})
	require.ErrorIs(t, err, jobs.ErrInvalid)
	_, err = bn.admin.Retry(ctx, 424242)
	require.ErrorIs(t, err, jobs.ErrNotFound)
	_, err = bn.admin.Cancel(ctx, 424242)
	require.ErrorIs(t, err, jobs.ErrNotFound)
	require.Error(t, jobs.Command(ctx, bn.admin, nil, io.Discard, io.Discard))
	require.Error(t, jobs.Command(ctx, bn.admin, []string{"retry", "x"}, io.Discard, io.Discard))
	require.Error(t, jobs.Command(ctx, bn.admin, []string{"purge"}, io.Discard, io.Discard))
	var out bytes.Buffer
	require.NoError(t, jobs.Command(ctx, bn.admin, []string{"list"}, &out, io.Discard))
	require.Contains(t, out.String(), "LAST ERROR", "an empty list still prints its header")
}
