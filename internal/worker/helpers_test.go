package worker_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/worker"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is a worker started by runWorker.
type running struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels the worker's context (as SIGTERM does) and returns what Run returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

// runWorker runs w until the test ends or stop is called.
func runWorker(t *testing.T, w *worker.Worker, grace time.Duration) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx, grace) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// newWorker builds a worker on pool with fast fetching, for tests.
func newWorker(t *testing.T, pool *pgxpool.Pool, reg *worker.Registry, cfg worker.Config) *worker.Worker {
	t.Helper()
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = 10 * time.Millisecond
	}
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = 100 * time.Millisecond
	}
	w, err := worker.New(pool, reg, cfg, quiet())
	require.NoError(t, err)
	return w
}

// applyFairnessIndex runs migration 0009 again now that River's tables exist: `migrate
// up` runs River's migrations after the platform's, so when the test template was
// built river_job did not exist yet when 0009 ran. The statement is idempotent.
func applyFairnessIndex(t *testing.T, ownerURL string) {
	t.Helper()
	all, err := postgres.Migrations()
	require.NoError(t, err)
	for _, m := range all {
		if m.Version == 9 {
			conn, err := pgx.Connect(context.Background(), ownerURL)
			require.NoError(t, err)
			defer conn.Close(context.Background())
			_, err = conn.Exec(context.Background(), m.Up)
			require.NoError(t, err)
			return
		}
	}
	t.Fatal("migration 0009 not found")
}

// stateOf returns a job's state.
func stateOf(t *testing.T, admin *pgxpool.Pool, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT state::text FROM river_job WHERE id = $1", id).Scan(&s))
	return s
}

// onlyJobID returns the id of the one job of kind.
func onlyJobID(t *testing.T, admin *pgxpool.Pool, kind string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, admin.QueryRow(context.Background(), "SELECT id FROM river_job WHERE kind = $1", kind).Scan(&id))
	return id
}

// Compile-time checks: the store is what the worker's jobs and metrics need.
var (
	_ worker.BacklogCounter = (*postgres.Store)(nil)
	_ worker.QueueCounter   = (*postgres.Store)(nil)
	_ worker.TenantPager    = (*postgres.Store)(nil)
	_ worker.ReportStore    = (*postgres.Store)(nil)
)
