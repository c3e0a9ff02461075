package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// tickArgs is a periodic system job that counts its runs.
type tickArgs struct{}

func (tickArgs) Kind() string { return "test.tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	runs *atomic.Int64
}

func (w *tickWorker) Work(context.Context, *river.Job[tickArgs]) error {
	w.runs.Add(1)
	return nil
}

// insertRecorder is insert middleware that reports each insert of kind: true when
// River skipped it as a duplicate of a unique job.
type insertRecorder struct {
	river.MiddlewareDefaults
	kind string
	seen chan bool
}

func (r *insertRecorder) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	res, err := doInner(ctx)
	if err == nil {
		for i, p := range params {
			if p.Kind == r.kind && i < len(res) && res[i] != nil {
				select {
				case r.seen <- res[i].UniqueSkippedAsDuplicate:
				default:
				}
			}
		}
	}
	return res, err
}

// TestPeriodicJobRunsOncePerPeriodAcrossReplicas runs two worker replicas on one
// database with an hourly job that also runs on start: it runs once. Then the leader
// stops, the other replica takes over and, starting its periodic jobs, tries to enqueue
// this period's run again: River skips it as a duplicate, and the job has still run
// once.
func TestPeriodicJobRunsOncePerPeriodAcrossReplicas(t *testing.T) {
	t.Parallel()
	_, db := postgrestest.NewStore(t)
	pool := postgrestest.Pool(t, db.AppURL)
	admin := postgrestest.Pool(t, db.AdminURL)
	ctx := context.Background()
	var runs atomic.Int64
	replicas := map[string]*running{}
	recorders := map[string]*insertRecorder{}
	for _, id := range []string{"replica-1", "replica-2"} {
		rec := &insertRecorder{kind: "test.tick", seen: make(chan bool, 10)}
		reg := worker.NewRegistry()
		worker.AddSystem(reg, &tickWorker{runs: &runs})
		reg.Every(time.Hour, func() coditect.Job { return tickArgs{} })
		replicas[id] = runWorker(t, newWorker(t, pool, reg, worker.Config{ID: id, Middleware: []rivertype.Middleware{rec}}), 5*time.Second)
		recorders[id] = rec
	}
	completed := func() int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'test.tick' AND state = 'completed'").Scan(&n))
		return n
	}
	leader := func() string {
		var id string
		if err := admin.QueryRow(ctx, "SELECT leader_id FROM river_leader").Scan(&id); err != nil {
			return ""
		}
		return id
	}
	require.Eventually(t, func() bool { return completed() == 1 && leader() != "" }, 30*time.Second, 20*time.Millisecond)
	first := leader()
	require.Contains(t, replicas, first)
	select {
	case skipped := <-recorders[first].seen:
		require.False(t, skipped, "the leader enqueued this period's run")
	default:
		t.Fatal("the leader's insert was not seen")
	}

	require.NoError(t, replicas[first].stop())
	var second string
	for id := range replicas {
		if id != first {
			second = id
		}
	}
	require.Eventually(t, func() bool { return leader() == second }, 30*time.Second, 20*time.Millisecond, "the other replica takes over")
	select {
	case skipped := <-recorders[second].seen:
		require.True(t, skipped, "the new leader's run of this period is a duplicate")
	case <-time.After(30 * time.Second):
		t.Fatal("the new leader did not start its periodic jobs")
	}
	var rows int
	require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'test.tick'").Scan(&rows))
	require.Equal(t, 1, rows, "one job row for the period")
	require.Equal(t, 1, completed())
	require.Equal(t, int64(1), runs.Load(), "it ran once")
}

func TestWeeklySchedule(t *testing.T) {
	t.Parallel()
	s := worker.WeeklySchedule(time.Monday, 6*time.Hour)
	at := func(v string) time.Time {
		tm, err := time.Parse(time.RFC3339, v)
		require.NoError(t, err)
		return tm
	}
	require.Equal(t, at("2026-04-27T06:00:00Z"), s.Next(at("2026-04-22T10:00:00Z")), "Wednesday → next Monday")
	require.Equal(t, at("2026-04-27T06:00:00Z"), s.Next(at("2026-04-27T05:59:59Z")), "Monday before the time → that day")
	require.Equal(t, at("2026-05-04T06:00:00Z"), s.Next(at("2026-04-27T06:00:00Z")), "at the time → a week later")
	require.Equal(t, at("2026-04-27T06:00:00Z"), s.Next(at("2026-04-27T07:00:00+02:00")), "in UTC whatever the zone")
}
