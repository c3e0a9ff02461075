package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// floodArgs is a tenant job that does nothing but be counted.
type floodArgs struct {
	coditect.TenantJob
	N int `json:"n"`
}

func (floodArgs) Kind() string { return "test.flood" }

type floodWorker struct {
	river.WorkerDefaults[floodArgs]
	a        coditect.TenantID
	aDone    atomic.Int64 // A's jobs finished
	bDoneAtA chan int64   // A's finished count when B's job ran
}

func (w *floodWorker) Work(ctx context.Context, job *river.Job[floodArgs]) error {
	if job.Args.TenantID == w.a {
		w.aDone.Add(1)
		return nil
	}
	w.bDoneAtA <- w.aDone.Load()
	return nil
}

func TestFairPriorityTiers(t *testing.T) {
	t.Parallel()
	for backlog, want := range map[int]int{0: 1, 99: 1, 100: 2, 999: 2, 1_000: 3, 9_999: 3, 10_000: 4, 1_000_000: 4} {
		require.Equal(t, want, worker.FairPriority(backlog), "backlog %d", backlog)
	}
}

// TestFairness is the flood case: tenant A enqueues 100,000 jobs, then tenant B one; B's
// job must finish promptly, measured in jobs: before A has finished 1,000.
func TestFairness(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	applyFairnessIndex(t, db.OwnerURL)
	pool := postgrestest.Pool(t, db.AppURL)
	admin := postgrestest.Pool(t, db.AdminURL)
	ctx := context.Background()
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	ctxA := coditect.WithActor(ctx, coditect.SystemActor(a))
	ctxB := coditect.WithActor(ctx, coditect.SystemActor(b))

	fair := worker.NewFairEnqueue(store, quiet())
	fairStore, err := store.WithJobMiddleware(fair)
	require.NoError(t, err)

	// A floods: 100,000 jobs in one COPY, through the middleware (a bulk enqueue).
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Middleware: []rivertype.Middleware{fair}})
	require.NoError(t, err)
	const flood = 100_000
	params := make([]river.InsertManyParams, flood)
	for i := range params {
		params[i] = river.InsertManyParams{Args: floodArgs{TenantJob: coditect.TenantJob{TenantID: a}, N: i}}
	}
	n, err := inserter.InsertManyFast(ctx, params)
	require.NoError(t, err)
	require.Equal(t, flood, n)
	// A few more of A's, one per transaction, the way requests enqueue (Tx.Enqueue).
	for i := range 3 {
		require.NoError(t, fairStore.InTx(ctxA, func(tx *postgres.Tx) error { return tx.Enqueue(ctxA, &floodArgs{N: flood + i}) }))
	}
	// Then B enqueues one job.
	require.NoError(t, fairStore.InTx(ctxB, func(tx *postgres.Tx) error { return tx.Enqueue(ctxB, &floodArgs{N: -1}) }))

	priorities := func(tenant coditect.TenantID) map[int]int {
		rows, err := admin.Query(ctx, "SELECT priority, count(*)::int FROM river_job WHERE args ->> 'tenant_id' = $1 GROUP BY 1", tenant.String())
		require.NoError(t, err)
		out := map[int]int{}
		var p, c int
		_, err = pgx.ForEachRow(rows, []any{&p, &c}, func() error { out[p] = c; return nil })
		require.NoError(t, err)
		return out
	}
	require.Equal(t, map[int]int{1: 100, 2: 900, 3: 9_000, 4: flood - 10_000 + 3}, priorities(a),
		"A's backlog goes in at falling priority, its later single jobs at the lowest")
	require.Equal(t, map[int]int{1: 1}, priorities(b), "B, with nothing waiting, enqueues at the highest")

	w := &floodWorker{a: a, bDoneAtA: make(chan int64, 1)}
	reg := worker.NewRegistry()
	worker.AddTenant(reg, w)
	runWorker(t, newWorker(t, pool, reg, worker.Config{Concurrency: 10}), 5*time.Second)
	select {
	case done := <-w.bDoneAtA:
		t.Logf("B's job ran after %d of A's %d jobs", done, flood)
		require.Less(t, done, int64(1_000), "B's job is not starved by A's flood")
	case <-time.After(2 * time.Minute):
		t.Fatalf("B's job did not run; A finished %d", w.aDone.Load())
	}
}

// TestFairEnqueueLeavesSystemJobsAlone: jobs with no tenant keep their priority.
func TestFairEnqueueLeavesSystemJobsAlone(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	fairStore, err := store.WithJobMiddleware(worker.NewFairEnqueue(store, quiet()))
	require.NoError(t, err)
	require.NoError(t, fairStore.EnqueueSystem(context.Background(), worker.PurgeArgs{}))
	var p int
	require.NoError(t, postgrestest.Pool(t, db.AdminURL).QueryRow(context.Background(),
		"SELECT priority FROM river_job WHERE kind = 'maintenance.purge_expired'").Scan(&p))
	require.Equal(t, 1, p)
}
