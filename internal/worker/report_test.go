package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

func TestReportWeek(t *testing.T) {
	t.Parallel()
	at := func(v string) time.Time {
		tm, err := time.Parse(time.RFC3339, v)
		require.NoError(t, err)
		return tm
	}
	require.Equal(t, "2026-W17", worker.ReportWeek(at("2026-04-27T06:00:00Z")), "Monday: the week that just ended")
	require.Equal(t, "2026-W17", worker.ReportWeek(at("2026-05-03T23:59:59Z")), "Sunday: still the last full week")
	require.Equal(t, "2026-W18", worker.ReportWeek(at("2026-05-04T00:00:00Z")))
	require.Equal(t, "2025-W52", worker.ReportWeek(at("2026-01-01T12:00:00Z")), "across a year")
	require.Equal(t, "2026-W53", worker.ReportWeek(at("2027-01-04T00:00:00Z")), "a 53-week year")

	start, end, err := worker.WeekBounds("2026-W17")
	require.NoError(t, err)
	require.Equal(t, at("2026-04-20T00:00:00Z"), start)
	require.Equal(t, at("2026-04-27T00:00:00Z"), end)
	start, _, err = worker.WeekBounds("2026-W01")
	require.NoError(t, err)
	require.Equal(t, at("2025-12-29T00:00:00Z"), start, "ISO week 1 can start in December")
	for _, bad := range []string{"", "2026-17", "2026-W54", "2025-W53", "2026-W1", "2026-W17x"} {
		_, _, err := worker.WeekBounds(bad)
		require.Error(t, err, bad)
	}
}

// sentMail is one email the fake mailer was asked to send.
type sentMail struct {
	Kind, To string
	Data     worker.WeeklyReportData
}

type fakeMailer struct {
	mu   sync.Mutex
	sent []sentMail
}

func (m *fakeMailer) Mail(_ context.Context, kind, to string, data any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{Kind: kind, To: to, Data: data.(worker.WeeklyReportData)})
	return nil
}

func (m *fakeMailer) all() []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]sentMail(nil), m.sent...)
	sort.Slice(out, func(i, j int) bool { return out[i].To < out[j].To })
	return out
}

// newOrg creates an organization with an owner (and, with admin, an admin and a
// member), returning a context scoped to it as its owner.
func newOrg(t *testing.T, store *postgres.Store, slug string, admin bool) (context.Context, coditect.AccountID) {
	t.Helper()
	tenant := coditect.NewID[coditect.TenantID]()
	owner := coditect.NewID[coditect.AccountID]()
	ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: owner, Tenant: tenant, Role: coditect.RoleOwner})
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		add := func(id coditect.AccountID, name string, role coditect.Role) error {
			if err := tx.AccountCreate(ctx, account.Account{ID: id, Email: name + "@" + slug + ".test", Name: name, PasswordHash: "x"}); err != nil {
				return err
			}
			return tx.MembershipCreate(ctx, id, role)
		}
		if _, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: slug, Name: "Org " + slug}, slug+".coditect.test"); err != nil {
			return err
		}
		if err := add(owner, "owner", coditect.RoleOwner); err != nil {
			return err
		}
		if admin {
			if err := add(coditect.NewID[coditect.AccountID](), "admin", coditect.RoleAdmin); err != nil {
				return err
			}
			return add(coditect.NewID[coditect.AccountID](), "member", coditect.RoleMember)
		}
		return nil
	})
	require.NoError(t, err)
	return ctx, owner
}

// TestWeeklyReport runs the whole report: the fan-out over three organizations (one
// tenant per transaction here, to page), a report per organization with its own
// numbers to its admins and owners, and nothing twice when the week runs again.
func TestWeeklyReport(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	pool, admin := postgrestest.Pool(t, db.AppURL), postgrestest.Pool(t, db.AdminURL)
	ctx := context.Background()
	ctxA, ownerA := newOrg(t, store, "alpha", true)
	newOrg(t, store, "bravo", false)
	newOrg(t, store, "charlie", false)
	// Charlie is being deleted (its slug is still claimed until the erasure job frees
	// it): no report, no failure.
	_, err := admin.Exec(ctx, "UPDATE organizations SET deleted_at = now() WHERE slug = 'charlie'")
	require.NoError(t, err)

	// Alpha's activity this week: two tasks created, one completed, by its owner.
	audited := func(action string, changes string) {
		owner := [16]byte(ownerA)
		require.NoError(t, store.InTx(ctxA, func(tx *postgres.Tx) error {
			return tx.AuditLogInsert(ctxA, audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: coditect.ActorAccount,
				ActorID: &owner, Action: action, TargetType: "task", TargetID: "t1", Changes: json.RawMessage(changes)})
		}))
	}
	audited("task.create", `{}`)
	audited("task.create", `{}`)
	audited("task.update", `{"status":"done","previous_status":"todo"}`)

	y, w := time.Now().UTC().ISOWeek()
	week := fmt.Sprintf("%04d-W%02d", y, w) // this week, so the audit rows above fall in it
	mailer := &fakeMailer{}
	reg := worker.NewRegistry()
	worker.AddSystem(reg, &worker.WeeklyReportFanOutWorker{Tenants: store, Batch: 1, Log: quiet()})
	worker.AddTenant(reg, &worker.WeeklyReportWorker{Store: store, BaseURL: "https://app.coditect.test", Log: quiet()})
	worker.AddTenant(reg, &worker.WeeklyReportMailWorker{Mailer: mailer})
	runWorker(t, newWorker(t, pool, reg, worker.Config{Concurrency: 4}), 5*time.Second)

	states := func(kind string) map[string]int { return kindStates(t, admin, kind) }
	require.NoError(t, store.EnqueueSystem(ctx, worker.WeeklyReportFanOutArgs{Week: week}))
	require.Eventually(t, func() bool {
		return states(worker.KindWeeklyReport)["completed"] == 3 && states(worker.KindWeeklyReportMail)["completed"] == 3
	}, 30*time.Second, 20*time.Millisecond)

	start, end, err := worker.WeekBounds(week)
	require.NoError(t, err)
	data := func(name, org string, created, completed, active int64) worker.WeeklyReportData {
		return worker.WeeklyReportData{Name: name, OrganizationName: org, Week: week, FirstDay: start.Format(time.DateOnly),
			LastDay: end.AddDate(0, 0, -1).Format(time.DateOnly), TasksCreated: created, TasksCompleted: completed,
			ActiveMembers: active, URL: "https://app.coditect.test"}
	}
	want := []sentMail{
		{worker.MailWeeklyReport, "admin@alpha.test", data("admin", "Org alpha", 2, 1, 1)},
		{worker.MailWeeklyReport, "owner@alpha.test", data("owner", "Org alpha", 2, 1, 1)},
		{worker.MailWeeklyReport, "owner@bravo.test", data("owner", "Org bravo", 0, 0, 0)},
	}
	require.Equal(t, want, mailer.all(), "each organization's admins and owners get its own numbers; the deleted one none")

	// The same week again: the fan-out is a duplicate while its row is kept …
	require.NoError(t, store.EnqueueSystem(ctx, worker.WeeklyReportFanOutArgs{Week: week}))
	require.Equal(t, map[string]int{"completed": 1}, states(worker.KindWeeklyReportFanOut))
	// … and once River has deleted the finished rows, the audit record still stops a
	// second report: the per-tenant jobs run and send nothing.
	_, err = admin.Exec(ctx, "DELETE FROM river_job WHERE state = 'completed'")
	require.NoError(t, err)
	require.NoError(t, store.EnqueueSystem(ctx, worker.WeeklyReportFanOutArgs{Week: week}))
	require.Eventually(t, func() bool { return states(worker.KindWeeklyReport)["completed"] == 3 }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, map[string]int{"completed": 1}, states(worker.KindWeeklyReportFanOut))
	require.Empty(t, states(worker.KindWeeklyReportMail), "no second email")
	require.Equal(t, want, mailer.all())

	// A week long past is not sent late.
	require.NoError(t, store.EnqueueSystem(ctx, worker.WeeklyReportFanOutArgs{Week: "2020-W10"}))
	require.Eventually(t, func() bool { return states(worker.KindWeeklyReportFanOut)["completed"] == 2 }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 3, states(worker.KindWeeklyReport)["completed"], "no report jobs for it")
}

func kindStates(t *testing.T, admin *pgxpool.Pool, kind string) map[string]int {
	t.Helper()
	out := map[string]int{}
	rows, err := admin.Query(context.Background(), "SELECT state::text, count(*)::int FROM river_job WHERE kind = $1 GROUP BY 1", kind)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		out[s] = n
	}
	require.NoError(t, rows.Err())
	return out
}
