package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/jobs"
	"github.com/coditect/coditect/internal/postgres"
)

// applyJobFairnessIndex runs migration 0009 again on a database whose River tables
// now exist. `migrate up` runs River's migrations after the platform's, so on the
// freshly built test template river_job did not exist yet when 0009 ran (see the
// migration's comment); the statement is idempotent.
func applyJobFairnessIndex(t *testing.T, bn bundle) {
	t.Helper()
	all, err := postgres.Migrations()
	require.NoError(t, err)
	for _, m := range all {
		if m.Version == 9 {
			conn, err := pgx.Connect(context.Background(), bn.db.OwnerURL)
			require.NoError(t, err)
			defer conn.Close(context.Background())
			_, err = conn.Exec(context.Background(), m.Up)
			require.NoError(t, err)
			return
		}
	}
	t.Fatal("migration 0009 (job fairness) not found")
}

// insertRawJobs adds n river_job rows of kind in state for tenant ("" for none).
func insertRawJobs(t *testing.T, bn bundle, tenant, kind, state string, n int) {
	t.Helper()
	args := `{}`
	if tenant != "" {
		args = `{"tenant_id":"` + tenant + `"}`
	}
	finalized := "NULL"
	if state == "completed" || state == "discarded" || state == "cancelled" {
		finalized = "now()"
	}
	_, err := rawPool(t, bn).Exec(context.Background(), `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, finalized_at)
		SELECT $1::jsonb, $2, 25, 'default', $3::river_job_state, now(), `+finalized+` FROM generate_series(1, $4)`, args, kind, state, n)
	require.NoError(t, err)
}

func TestJobBacklogs(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	applyJobFairnessIndex(t, bn)
	a, b := tenantOf(t, bn, bn.a), tenantOf(t, bn, bn.b)
	insertRawJobs(t, bn, a, "test.flood", "available", 12_000)
	insertRawJobs(t, bn, a, "test.flood", "completed", 3_000) // finished jobs are not backlog
	insertRawJobs(t, bn, b, "test.flood", "available", 3)
	insertRawJobs(t, bn, b, "test.flood", "scheduled", 2)
	insertRawJobs(t, bn, b, "test.flood", "retryable", 1)
	insertRawJobs(t, bn, b, "test.flood", "running", 4)     // running is not waiting
	insertRawJobs(t, bn, "", "test.system", "available", 7) // system jobs belong to no tenant
	_, err := rawPool(t, bn).Exec(context.Background(), "ANALYZE river_job")
	require.NoError(t, err)

	quiet := coditect.NewID[coditect.TenantID]()
	ids := []coditect.TenantID{mustTenant(t, a), mustTenant(t, b), quiet}
	got, err := bn.store.JobBacklogs(context.Background(), ids, 10_000)
	require.NoError(t, err)
	require.Equal(t, map[coditect.TenantID]int{ids[0]: 10_000, ids[1]: 6, quiet: 0}, got, "counts stop at the limit")

	t.Run("the count reads the tenant's waiting rows through the partial index", func(t *testing.T) {
		var plan []string
		rows, err := rawPool(t, bn).Query(context.Background(), `EXPLAIN SELECT count(*) FROM (SELECT 1 FROM river_job
			WHERE args ->> 'tenant_id' = '`+b+`' AND state IN ('available', 'scheduled', 'retryable') LIMIT 10000) AS waiting`)
		require.NoError(t, err)
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Contains(t, strings.Join(plan, "\n"), "river_job_tenant_backlog", "plan:\n%s", strings.Join(plan, "\n"))
	})
}

func mustTenant(t *testing.T, s string) coditect.TenantID {
	t.Helper()
	id, err := coditect.ParseID[coditect.TenantID](s)
	require.NoError(t, err)
	return id
}

func TestJobQueueCounts(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	a := tenantOf(t, bn, bn.a)
	insertRawJobs(t, bn, a, "mail.send", "available", 3)
	insertRawJobs(t, bn, a, "mail.send", "discarded", 2)
	insertRawJobs(t, bn, "", "maintenance.purge_expired", "completed", 1)
	got, err := bn.store.JobQueueCounts(context.Background())
	require.NoError(t, err)
	require.Equal(t, []jobs.QueueCount{
		{Kind: "mail.send", State: "available", Count: 3},
		{Kind: "mail.send", State: "discarded", Count: 2},
		{Kind: "maintenance.purge_expired", State: "completed", Count: 1},
	}, got)
}

func TestSystemTenantPage(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	page, err := bn.store.SystemTenantPage(ctx, "", 1)
	require.NoError(t, err)
	require.Equal(t, []jobs.TenantRef{{Slug: "tenant-a", TenantID: mustTenant(t, tenantOf(t, bn, bn.a))}}, page)
	page, err = bn.store.SystemTenantPage(ctx, "tenant-a", 10)
	require.NoError(t, err)
	require.Equal(t, []jobs.TenantRef{{Slug: "tenant-b", TenantID: mustTenant(t, tenantOf(t, bn, bn.b))}}, page)
	page, err = bn.store.SystemTenantPage(ctx, "tenant-b", 10)
	require.NoError(t, err)
	require.Empty(t, page)
}

// auditRow writes one audit row in ctx's tenant, as actor.
func auditRow(t *testing.T, bn bundle, ctx context.Context, actor coditect.AccountID, action, target string, changes map[string]any) {
	t.Helper()
	raw, err := json.Marshal(changes)
	require.NoError(t, err)
	id := [16]byte(actor)
	err = bn.store.InTx(ctx, func(tx *postgres.Tx) error {
		return tx.AuditLogInsert(ctx, audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: coditect.ActorAccount,
			ActorID: &id, Action: action, TargetType: "task", TargetID: target, Changes: raw})
	})
	require.NoError(t, err)
}

func TestReportQueries(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	other := coditect.NewID[coditect.AccountID]()
	admin := coditect.NewID[coditect.AccountID]()
	member := coditect.NewID[coditect.AccountID]()
	err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
		for _, m := range []struct {
			id   coditect.AccountID
			name string
			role coditect.Role
		}{{admin, "ada", coditect.RoleAdmin}, {member, "max", coditect.RoleMember}, {other, "oli", coditect.RoleViewer}} {
			if err := tx.AccountCreate(bn.a, account.Account{ID: m.id, Email: m.name + "@example.com", Name: m.name, PasswordHash: "x"}); err != nil {
				return err
			}
			if err := tx.MembershipCreate(bn.a, m.id, m.role); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)

	t1, t2 := coditect.NewID[coditect.TaskID]().String(), coditect.NewID[coditect.TaskID]().String()
	auditRow(t, bn, bn.a, bn.ownerA, "task.create", t1, nil)
	auditRow(t, bn, bn.a, bn.ownerA, "task.create", t2, nil)
	auditRow(t, bn, bn.a, member, "task.create", "t3", nil)
	auditRow(t, bn, bn.a, member, "task.update", t1, map[string]any{"status": "done", "previous_status": "todo"})
	auditRow(t, bn, bn.a, member, "task.update", t1, map[string]any{"status": "done", "previous_status": "in_progress"}) // reopened, done again: one task
	auditRow(t, bn, bn.a, bn.ownerA, "task.update", t2, map[string]any{"title": "renamed"})
	since, until := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)

	act, err := bn.store.ReportActivity(bn.a, since, until)
	require.NoError(t, err)
	require.Equal(t, jobs.Activity{TasksCreated: 3, TasksCompleted: 1, ActiveMembers: 2}, act)
	act, err = bn.store.ReportActivity(bn.a, until, until.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, jobs.Activity{}, act, "outside the period")

	rcpts, err := bn.store.ReportRecipients(bn.a)
	require.NoError(t, err)
	var emails []string
	for _, r := range rcpts {
		emails = append(emails, r.Email+"/"+string(r.Role))
	}
	require.ElementsMatch(t, []string{"tenant-a@example.com/owner", "ada@example.com/admin"}, emails)

	jobCount := func(kind string) int {
		var n int
		require.NoError(t, rawPool(t, bn).QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = $1", kind).Scan(&n))
		return n
	}
	did, err := bn.store.ReportRecordOnce(bn.a, "report.weekly_sent", "2026-W17", since, map[string]any{"recipients": 2},
		[]coditect.TenantBoundJob{&testMailJob{To: "ada@example.com"}, &testMailJob{To: "tenant-a@example.com"}})
	require.NoError(t, err)
	require.True(t, did)
	require.Equal(t, 2, jobCount("test.report_mail"))
	did, err = bn.store.ReportRecordOnce(bn.a, "report.weekly_sent", "2026-W17", since, nil,
		[]coditect.TenantBoundJob{&testMailJob{To: "ada@example.com"}})
	require.NoError(t, err)
	require.False(t, did, "the second time does nothing")
	require.Equal(t, 2, jobCount("test.report_mail"))

	t.Run("other tenant sees nothing", func(t *testing.T) {
		act, err := bn.store.ReportActivity(bn.b, since, until)
		require.NoError(t, err)
		require.Equal(t, jobs.Activity{}, act)
		rcpts, err := bn.store.ReportRecipients(bn.b)
		require.NoError(t, err)
		require.Len(t, rcpts, 1)
		require.Equal(t, "tenant-b@example.com", rcpts[0].Email)
		did, err := bn.store.ReportRecordOnce(bn.b, "report.weekly_sent", "2026-W17", since, nil,
			[]coditect.TenantBoundJob{&testMailJob{To: "tenant-b@example.com"}})
		require.NoError(t, err)
		require.True(t, did, "A's record does not count for B")
		require.Equal(t, 3, jobCount("test.report_mail"))
	})
}

type testMailJob struct {
	coditect.TenantJob
	To string `json:"to"`
}

func (testMailJob) Kind() string { return "test.report_mail" }
