package worker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// echoArgs is a tenant job that reports the actor it ran as.
type echoArgs struct {
	coditect.TenantJob
	Note  string `json:"note"`
	Panic bool   `json:"panic"`
}

func (echoArgs) Kind() string { return "test.echo" }

type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	seen chan coditect.Actor
}

func (w *echoWorker) Work(ctx context.Context, job *river.Job[echoArgs]) error {
	if job.Args.Panic {
		panic("boom")
	}
	a, _ := coditect.ActorFrom(ctx)
	w.seen <- a
	return nil
}

type bundle struct {
	store  *postgres.Store
	pool   *pgxpool.Pool
	admin  *pgxpool.Pool
	tenant coditect.TenantID
	ctx    context.Context
	seen   chan coditect.Actor
}

func setup(t *testing.T) bundle {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	pool := postgrestest.Pool(t, db.AppURL)
	tenant := coditect.NewID[coditect.TenantID]()
	ctx := coditect.WithActor(context.Background(), coditect.SystemActor(tenant))
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		_, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: "acme", Name: "Acme"}, "acme.test")
		return err
	})
	require.NoError(t, err)
	return bundle{store: store, pool: pool, admin: postgrestest.Pool(t, db.AdminURL), tenant: tenant, ctx: ctx, seen: make(chan coditect.Actor, 10)}
}

func start(t *testing.T, bn bundle) {
	t.Helper()
	reg := worker.NewRegistry()
	worker.AddTenant(reg, &echoWorker{seen: bn.seen})
	worker.AddSystem(reg, &worker.PurgeWorker{Store: bn.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.Every(time.Hour, func() coditect.Job { return worker.PurgeArgs{} })
	w, err := worker.New(bn.pool, reg, worker.Config{Concurrency: 4}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func jobCount(t *testing.T, bn bundle, kind, state string) int {
	t.Helper()
	var n int
	require.NoError(t, bn.admin.QueryRow(context.Background(),
		"SELECT count(*) FROM river_job WHERE kind = $1 AND ($2 = '' OR state::text = $2)", kind, state).Scan(&n))
	return n
}

func TestEnqueueIsTransactional(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	errRollback := coditect.Errorf(coditect.CodeConflict, "roll back")
	err := bn.store.InTx(bn.ctx, func(tx *postgres.Tx) error {
		require.NoError(t, tx.Enqueue(bn.ctx, &echoArgs{Note: "never"}))
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Zero(t, jobCount(t, bn, "test.echo", ""), "a rolled-back transaction enqueues nothing")

	other := coditect.NewID[coditect.TenantID]()
	err = bn.store.InTx(bn.ctx, func(tx *postgres.Tx) error {
		// Whatever tenant the args carry, the job belongs to the transaction's tenant.
		return tx.Enqueue(bn.ctx, &echoArgs{TenantJob: coditect.TenantJob{TenantID: other}, Note: "hi"})
	})
	require.NoError(t, err)
	require.Equal(t, 1, jobCount(t, bn, "test.echo", "available"))

	start(t, bn)
	select {
	case a := <-bn.seen:
		require.Equal(t, coditect.ActorSystem, a.Kind)
		require.Equal(t, bn.tenant, a.Tenant, "the job runs as its enqueuing tenant")
	case <-time.After(15 * time.Second):
		t.Fatal("job did not run")
	}
}

func TestJobWithoutTenantIsRefused(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	_, err := bn.admin.Exec(context.Background(), `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
		VALUES ('{"note":"x"}', 'test.echo', 5, 'default', 'available', now())`)
	require.NoError(t, err)
	start(t, bn)
	require.Eventually(t, func() bool { return jobCount(t, bn, "test.echo", "cancelled") == 1 }, 15*time.Second, 50*time.Millisecond)
	select {
	case a := <-bn.seen:
		t.Fatalf("a tenantless tenant job ran as %+v", a)
	default:
	}
}

func TestPanickingJobDoesNotKillTheWorker(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	err := bn.store.InTx(bn.ctx, func(tx *postgres.Tx) error {
		if err := tx.Enqueue(bn.ctx, &echoArgs{Panic: true}); err != nil {
			return err
		}
		return tx.Enqueue(bn.ctx, &echoArgs{Note: "after"})
	})
	require.NoError(t, err)
	start(t, bn)
	select {
	case a := <-bn.seen:
		require.Equal(t, bn.tenant, a.Tenant)
	case <-time.After(15 * time.Second):
		t.Fatal("the worker stopped working after a panic")
	}
	require.Eventually(t, func() bool { return jobCount(t, bn, "test.echo", "retryable") == 1 }, 15*time.Second, 50*time.Millisecond,
		"the panicking job is kept for retry")
}

func TestPeriodicPurgeRunsOnStart(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	_, err := bn.admin.Exec(context.Background(), `INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, expires_at)
		VALUES ($1, 'p', 'old', 'h', now() - interval '1 hour'), ($1, 'p', 'live', 'h', now() + interval '1 hour')`, bn.tenant.String())
	require.NoError(t, err)
	start(t, bn)
	require.Eventually(t, func() bool { return jobCount(t, bn, "maintenance.purge_expired", "completed") == 1 }, 20*time.Second, 100*time.Millisecond)
	var keys []string
	rows, err := bn.admin.Query(context.Background(), "SELECT key FROM idempotency_keys")
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.Equal(t, []string{"live"}, keys)
}
