package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/jobs"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// The store side of the background jobs (internal/worker, internal/jobs): the two
// statements on River's river_job table that the worker needs besides River's own
// (the fair-enqueue backlog count and the queue depth for metrics), and the weekly
// report's reads. river_job is a coordinator-local table, not tenant data, and is not
// in sqlc's schema (River's migrator creates it), so those two are plain SQL here.

// WithJobMiddleware returns a copy of the store whose job inserts (Tx.Enqueue,
// EnqueueSystem) go through mw, e.g. the worker's fair-enqueue middleware. Call it once
// at start-up and use the copy everywhere.
func (s *Store) WithJobMiddleware(mw ...rivertype.Middleware) (*Store, error) {
	c, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{Middleware: mw})
	if err != nil {
		return nil, err
	}
	out := *s
	out.jobs = c
	return &out, nil
}

// jobBacklogSQL counts each given tenant's waiting jobs through the partial index
// river_job_tenant_backlog (migration 0009): an index range scan per tenant that reads
// at most $2 entries, however many jobs other tenants have or finished jobs there are.
const jobBacklogSQL = `SELECT t.id, (
	SELECT count(*) FROM (
		SELECT 1 FROM river_job
		WHERE args ->> 'tenant_id' = t.id AND state IN ('available', 'scheduled', 'retryable')
		LIMIT $2) AS waiting)
FROM unnest($1::text[]) AS t(id)`

// JobBacklogs returns how many of each tenant's jobs are waiting to run (available,
// scheduled or retryable), counting no further than limit, in one statement. It runs
// on the pool, outside any transaction: the fair-enqueue middleware calls it while a
// transaction is inserting jobs.
func (s *Store) JobBacklogs(ctx context.Context, tenants []coditect.TenantID, limit int) (map[coditect.TenantID]int, error) {
	ids := make([]string, len(tenants))
	for i, t := range tenants {
		ids[i] = t.String()
	}
	rows, err := s.pool.Query(ctx, jobBacklogSQL, ids, limit)
	if err != nil {
		return nil, dbError(err, "job")
	}
	defer rows.Close()
	out := make(map[coditect.TenantID]int, len(tenants))
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, dbError(err, "job")
		}
		t, err := coditect.ParseID[coditect.TenantID](id)
		if err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, dbError(rows.Err(), "job")
}

// JobQueueCounts returns how many jobs there are of each kind in each state (finished
// jobs included until River's cleaner deletes them). The metrics refresh calls it
// periodically, never per job.
func (s *Store) JobQueueCounts(ctx context.Context) ([]jobs.QueueCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, dbError(err, "job")
	}
	defer rows.Close()
	var out []jobs.QueueCount
	for rows.Next() {
		var c jobs.QueueCount
		if err := rows.Scan(&c.Kind, &c.State, &c.Count); err != nil {
			return nil, dbError(err, "job")
		}
		out = append(out, c)
	}
	return out, dbError(rows.Err(), "job")
}

// SystemTenantPage returns up to limit tenants from the global slug lookup whose slug
// sorts after afterSlug (keyset paging; "" starts at the beginning). System fan-outs
// use it: it reads no tenant table.
func (s *Store) SystemTenantPage(ctx context.Context, afterSlug string, limit int) ([]jobs.TenantRef, error) {
	var out []jobs.TenantRef
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.TenantSlugPage(ctx, dbsqlc.TenantSlugPageParams{AfterSlug: afterSlug, PageSize: int32(limit)})
		for _, r := range rows {
			out = append(out, jobs.TenantRef{Slug: r.Slug, TenantID: coditect.TenantID(r.TenantID)})
		}
		return err
	})
	return out, dbError(err, "tenant")
}

// ReportActivity returns the context tenant's activity in [since, until).
func (s *Store) ReportActivity(ctx context.Context, since, until time.Time) (jobs.Activity, error) {
	var out jobs.Activity
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.ReportWeeklyActivity(ctx, dbsqlc.ReportWeeklyActivityParams{TenantID: tenant, Since: since, Until: until})
		out = jobs.Activity{TasksCreated: r.TasksCreated, TasksCompleted: r.TasksCompleted, ActiveMembers: r.ActiveMembers}
		return err
	})
	return out, dbError(err, "report")
}

// maxReportRecipients bounds the admins and owners one report goes to.
const maxReportRecipients = 100

// ReportRecipients returns the context tenant's admins and owners with their email
// addresses: a tenant read of the memberships, then a global read of the accounts.
func (s *Store) ReportRecipients(ctx context.Context) ([]jobs.Recipient, error) {
	var members []dbsqlc.ReportRecipientsRow
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) (err error) {
		members, err = q.ReportRecipients(ctx, dbsqlc.ReportRecipientsParams{TenantID: tenant, Limit: maxReportRecipients})
		return err
	})
	if err != nil || len(members) == 0 {
		return nil, dbError(err, "member")
	}
	ids := make([]uuid.UUID, len(members))
	roles := make(map[uuid.UUID]string, len(members))
	for i, m := range members {
		ids[i], roles[m.AccountID] = m.AccountID, m.Role
	}
	var out []jobs.Recipient
	err = s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.AccountContacts(ctx, ids)
		for _, r := range rows {
			out = append(out, jobs.Recipient{AccountID: coditect.AccountID(r.ID), Email: r.Email, Name: r.Name,
				Role: coditect.Role(roles[r.ID])})
		}
		return err
	})
	return out, dbError(err, "account")
}

// ReportRecordOnce does, at most once per (action, target) since the given time, what
// a report job must do only once for the context tenant (the weekly report of a week): in one transaction it checks the tenant's
// audit log for an earlier (action, target) row, and if there is none it writes one
// (as the system, with changes) and enqueues jobs. It returns false, having done
// nothing, when the row exists. A transaction advisory lock on (tenant, action,
// target) keeps two concurrent calls from both doing it.
func (s *Store) ReportRecordOnce(ctx context.Context, action, target string, since time.Time, changes any,
	enqueue []coditect.TenantBoundJob) (bool, error) {
	raw, err := json.Marshal(changes)
	if err != nil {
		return false, err
	}
	done := false
	err = s.InTx(ctx, func(tx *Tx) error {
		key := tx.tenant.String() + "|" + action + "|" + target
		if _, err := tx.p.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 7041992))", key); err != nil {
			return dbError(err, "job")
		}
		seen, err := tx.q.AuditActionRecorded(ctx, dbsqlc.AuditActionRecordedParams{TenantID: tenantUID(tx.tenant),
			Action: action, TargetID: target, Since: since})
		if err != nil || seen {
			return dbError(err, "audit log")
		}
		err = tx.AuditLogInsert(ctx, audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: coditect.ActorSystem,
			Action: action, TargetType: "report", TargetID: target, Changes: raw})
		if err != nil {
			return err
		}
		for _, j := range enqueue {
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		done = true
		return nil
	})
	return done && err == nil, err
}
