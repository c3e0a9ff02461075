package worker_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// slowArgs is a tenant job that takes its time.
type slowArgs struct {
	coditect.TenantJob
	Sleep time.Duration `json:"sleep"` // work this long, ignoring the context
}

func (slowArgs) Kind() string { return "test.slow" }

type slowWorker struct {
	river.WorkerDefaults[slowArgs]
	block   atomic.Bool   // block until the context is cancelled instead
	started chan struct{} // told when a job starts
	done    atomic.Int64  // jobs that finished their work
}

func (w *slowWorker) Work(ctx context.Context, job *river.Job[slowArgs]) error {
	w.started <- struct{}{}
	if w.block.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	time.Sleep(job.Args.Sleep)
	w.done.Add(1)
	return nil
}

func enqueueSlow(t *testing.T, store *postgres.Store, args *slowArgs) {
	t.Helper()
	ctx := coditect.WithActor(context.Background(), coditect.SystemActor(coditect.NewID[coditect.TenantID]()))
	require.NoError(t, store.InTx(ctx, func(tx *postgres.Tx) error { return tx.Enqueue(ctx, args) }))
}

// TestShutdownLetsRunningJobsFinish: on SIGTERM (Run's context cancelled) a job that is
// running finishes within the grace period and is completed.
func TestShutdownLetsRunningJobsFinish(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	pool, admin := postgrestest.Pool(t, db.AppURL), postgrestest.Pool(t, db.AdminURL)
	enqueueSlow(t, store, &slowArgs{Sleep: 300 * time.Millisecond})
	w := &slowWorker{started: make(chan struct{}, 1)}
	reg := worker.NewRegistry()
	worker.AddTenant(reg, w)
	r := runWorker(t, newWorker(t, pool, reg, worker.Config{}), 30*time.Second)
	<-w.started
	require.NoError(t, r.stop())
	require.Equal(t, int64(1), w.done.Load())
	require.Equal(t, "completed", stateOf(t, admin, onlyJobID(t, admin, "test.slow")))
}

// TestShutdownPutsUnfinishedJobBack: a job still running when the grace period ends has
// its context cancelled, is not completed, and goes back to the queue without spending
// an attempt; another worker then runs it to completion.
func TestShutdownPutsUnfinishedJobBack(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	pool, admin := postgrestest.Pool(t, db.AppURL), postgrestest.Pool(t, db.AdminURL)
	enqueueSlow(t, store, &slowArgs{})
	id := onlyJobID(t, admin, "test.slow")

	first := &slowWorker{started: make(chan struct{}, 1)}
	first.block.Store(true)
	reg := worker.NewRegistry()
	worker.AddTenant(reg, first)
	r := runWorker(t, newWorker(t, pool, reg, worker.Config{ID: "first"}), 200*time.Millisecond)
	<-first.started
	require.Equal(t, "running", stateOf(t, admin, id))
	require.NoError(t, r.stop(), "Run returns once the cancelled job has returned")
	require.Zero(t, first.done.Load())
	var attempt int
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT attempt FROM river_job WHERE id = $1", id).Scan(&attempt))
	require.Equal(t, "available", stateOf(t, admin, id), "back in the queue, not completed")
	require.Zero(t, attempt, "an interrupted attempt is not spent")

	second := &slowWorker{started: make(chan struct{}, 1)}
	reg = worker.NewRegistry()
	worker.AddTenant(reg, second)
	runWorker(t, newWorker(t, pool, reg, worker.Config{ID: "second"}), 5*time.Second)
	require.Eventually(t, func() bool { return stateOf(t, admin, id) == "completed" }, 15*time.Second, 20*time.Millisecond)
	require.Equal(t, int64(1), second.done.Load())
}

// effectArgs is a tenant job whose effect is an idempotent upsert keyed by Key.
type effectArgs struct {
	coditect.TenantJob
	Key string `json:"key"`
}

func (effectArgs) Kind() string { return "test.effect" }

// effectWorker applies the effect (INSERT … ON CONFLICT DO NOTHING) and logs every run
// (a plain INSERT, to count runs). With hang set it then hangs, as a process does that
// is about to be killed.
type effectWorker struct {
	river.WorkerDefaults[effectArgs]
	db   *pgxpool.Pool
	hang bool
}

func (w *effectWorker) Work(ctx context.Context, job *river.Job[effectArgs]) error {
	if _, err := w.db.Exec(ctx, "INSERT INTO test_effects (key) VALUES ($1) ON CONFLICT (key) DO NOTHING", job.Args.Key); err != nil {
		return err
	}
	if _, err := w.db.Exec(ctx, "INSERT INTO test_runs (key, attempt) VALUES ($1, $2)", job.Args.Key, job.Attempt); err != nil {
		return err
	}
	if w.hang {
		select {} // killed here, before River can record the job as completed
	}
	return nil
}

const (
	envHelperAppURL   = "CODITECT_TEST_DOOMED_WORKER_APP_URL"
	envHelperAdminURL = "CODITECT_TEST_DOOMED_WORKER_ADMIN_URL"
)

// TestDoomedWorkerProcess is not a test: TestKilledWorkerJobRunsAgainOnce runs the test
// binary with it as a separate worker process, which it then kills with SIGKILL.
func TestDoomedWorkerProcess(t *testing.T) {
	appURL := os.Getenv(envHelperAppURL)
	if appURL == "" {
		return
	}
	pool, err := pgxpool.New(context.Background(), appURL)
	require.NoError(t, err)
	effects, err := pgxpool.New(context.Background(), os.Getenv(envHelperAdminURL))
	require.NoError(t, err)
	reg := worker.NewRegistry()
	worker.AddTenant(reg, &effectWorker{db: effects, hang: true})
	w := newWorker(t, pool, reg, worker.Config{ID: "doomed"})
	go func() { _ = w.Run(context.Background(), time.Second) }()
	time.Sleep(2 * time.Minute) // the parent kills this process long before
	os.Exit(3)
}

// TestKilledWorkerJobRunsAgainOnce: a worker process killed mid-job (SIGKILL, after the
// job's effect, before River recorded the job as done) leaves the job running in the
// database; once it has run for RescueAfter another worker retries it, it runs again,
// and because the job is idempotent its effect happens once.
func TestKilledWorkerJobRunsAgainOnce(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	pool, admin := postgrestest.Pool(t, db.AppURL), postgrestest.Pool(t, db.AdminURL)
	ctx := context.Background()
	_, err := admin.Exec(ctx, `CREATE TABLE test_effects (key text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
		CREATE TABLE test_runs (key text NOT NULL, attempt int NOT NULL)`)
	require.NoError(t, err)
	tenant := coditect.NewID[coditect.TenantID]()
	tctx := coditect.WithActor(ctx, coditect.SystemActor(tenant))
	require.NoError(t, store.InTx(tctx, func(tx *postgres.Tx) error { return tx.Enqueue(tctx, &effectArgs{Key: "invoice-42"}) }))
	id := onlyJobID(t, admin, "test.effect")
	count := func(table string) int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		return n
	}

	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestDoomedWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelperAppURL+"="+db.AppURL, envHelperAdminURL+"="+db.AdminURL)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { return count("test_runs") == 1 }, 30*time.Second, 20*time.Millisecond,
		"the doomed worker ran the job; its output:\n%s", &out)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Equal(t, "running", stateOf(t, admin, id), "the killed worker never finished it")
	require.Equal(t, 1, count("test_effects"))

	// The dead process's leadership would lapse after River's leader TTL; end it now
	// rather than wait.
	_, err = admin.Exec(ctx, "DELETE FROM river_leader")
	require.NoError(t, err)
	const rescueAfter = 2 * time.Second
	require.Eventually(t, func() bool {
		var stale bool
		require.NoError(t, admin.QueryRow(ctx, "SELECT attempted_at < now() - make_interval(secs => $1) FROM river_job WHERE id = $2",
			rescueAfter.Seconds(), id).Scan(&stale))
		return stale
	}, 30*time.Second, 50*time.Millisecond)

	reg := worker.NewRegistry()
	worker.AddTenant(reg, &effectWorker{db: admin})
	runWorker(t, newWorker(t, pool, reg, worker.Config{ID: "survivor", JobTimeout: time.Second, RescueAfter: rescueAfter}), 5*time.Second)
	require.Eventually(t, func() bool { return stateOf(t, admin, id) == "completed" }, 60*time.Second, 50*time.Millisecond)
	require.Equal(t, 2, count("test_runs"), "the job ran again")
	require.Equal(t, 1, count("test_effects"), "its effect happened once")
}
