package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/work"
	"github.com/coditect/coditect/internal/worker"
)

// crashingStore lets `left` erase batches through, then fails like a crashed process.
type crashingStore struct {
	account.ErasureStore
	left atomic.Int32
}

var errCrash = errors.New("simulated crash")

func (c *crashingStore) EraseTenantBatch(ctx context.Context, limit int) (account.ErasedBatch, error) {
	if c.left.Add(-1) < 0 {
		return account.ErasedBatch{}, errCrash
	}
	return c.ErasureStore.EraseTenantBatch(ctx, limit)
}

// eraseSetup onboards tenant "acme" (with work) next to the bundle's tenant, which
// stands in for every other tenant and must be left alone.
func eraseSetup(t *testing.T, bn bundle) (coditect.TenantID, coditect.Actor, *account.Service) {
	t.Helper()
	ctx := context.Background()
	astore := postgres.AccountStore{Store: bn.store}
	acc, o, err := account.Onboard(ctx, astore, account.OnboardParams{Email: "owner@example.com", Name: "O", PasswordHash: "x",
		OrgName: "Doomed", Slug: "doomed", BaseDomain: "coditect.test"})
	require.NoError(t, err)
	owner := coditect.Actor{Kind: coditect.ActorAccount, AccountID: acc.ID, Tenant: o.ID, Role: coditect.RoleOwner}
	octx := coditect.WithActor(ctx, owner)
	err = bn.store.InTx(octx, func(tx *postgres.Tx) error {
		ws, err := tx.WorkspaceCreate(octx, work.Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: "W"})
		if err != nil {
			return err
		}
		p, err := tx.ProjectCreate(octx, work.Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: ws.ID, Name: "P"})
		if err != nil {
			return err
		}
		for range 7 {
			if _, err := tx.TaskCreate(octx, work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: p.ID, Title: "t", Status: work.TaskTodo}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	return o.ID, owner, account.NewService(astore, bn.store, bn.store, "coditect.test", nil)
}

func rowsOf(t *testing.T, bn bundle, table, tenant string) int {
	t.Helper()
	col := "tenant_id"
	if table == "organizations" {
		col = "id"
	}
	var n int
	require.NoError(t, bn.admin.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+col+" = $1", tenant).Scan(&n))
	return n
}

func TestEraseJobResumesAfterACrash(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tenant, owner, svc := eraseSetup(t, bn)
	other := map[string]int{}
	for _, table := range []string{"organizations", "audit_logs", "tenant_slugs", "tenant_domains"} {
		other[table] = rowsOf(t, bn, table, bn.tenant.String())
	}
	require.NoError(t, svc.DeleteOrganization(coditect.WithActor(context.Background(), owner)))
	require.Equal(t, 1, jobCount(t, bn, "account.erase_tenant", "available"))

	// First attempt: two batches commit, then the process "crashes" mid-erasure.
	sys := coditect.WithActor(context.Background(), coditect.SystemActor(tenant))
	crashing := &crashingStore{ErasureStore: bn.store}
	crashing.left.Store(2)
	job := &river.Job[account.EraseArgs]{JobRow: &rivertype.JobRow{Attempt: 1}}
	err := (&worker.EraseWorker{Store: crashing, Batch: 3}).Work(sys, job)
	require.ErrorIs(t, err, errCrash)
	d, err := bn.store.TenantDeletionGet(sys)
	require.NoError(t, err)
	require.NotNil(t, d.StartedAt)
	require.Nil(t, d.CompletedAt, "not finished")
	require.EqualValues(t, 6, d.RowsDeleted["tasks"], "two batches of 3 tasks committed")
	require.Equal(t, 1, rowsOf(t, bn, "tasks", tenant.String()), "the rest is still there")
	require.Equal(t, 1, rowsOf(t, bn, "organizations", tenant.String()))
	require.Equal(t, 1, jobCount(t, bn, "account.erase_tenant", "available"), "the erase job itself survives the eraser")

	// The real worker then runs the enqueued job (through River and the tenant
	// middleware) and carries on from there.
	reg := worker.NewRegistry()
	worker.AddTenant(reg, &worker.EraseWorker{Store: bn.store, Batch: 3, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w, err := worker.New(bn.pool, reg, worker.Config{Concurrency: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return jobCount(t, bn, "account.erase_tenant", "completed") == 1 }, 20*time.Second, 50*time.Millisecond)

	d, err = bn.store.TenantDeletionGet(sys)
	require.NoError(t, err)
	require.NotNil(t, d.CompletedAt)
	require.EqualValues(t, 7, d.RowsDeleted["tasks"], "every task counted exactly once across both attempts")
	require.EqualValues(t, 1, d.RowsDeleted["organizations"])
	for _, table := range []string{"tasks", "projects", "workspaces", "memberships", "audit_logs", "organizations", "tenant_slugs",
		"tenant_domains", "account_memberships"} {
		require.Zero(t, rowsOf(t, bn, table, tenant.String()), table)
	}
	for table, n := range other {
		require.Equal(t, n, rowsOf(t, bn, table, bn.tenant.String()), "the other tenant keeps its %s", table)
	}
	_, err = bn.store.TenantBySlug(context.Background(), "doomed")
	require.True(t, coditect.IsNotFound(err), "the slug is free")
}

func TestEraseJobForALiveTenantIsCancelled(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	err := bn.store.InTx(bn.ctx, func(tx *postgres.Tx) error { return tx.Enqueue(bn.ctx, &account.EraseArgs{}) })
	require.NoError(t, err)
	reg := worker.NewRegistry()
	worker.AddTenant(reg, &worker.EraseWorker{Store: bn.store})
	w, err := worker.New(bn.pool, reg, worker.Config{Concurrency: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return jobCount(t, bn, "account.erase_tenant", "cancelled") == 1 }, 20*time.Second, 50*time.Millisecond,
		"no deletion record: the job is cancelled, not retried")
	require.Equal(t, 1, rowsOf(t, bn, "organizations", bn.tenant.String()), "the live tenant is untouched")
}
