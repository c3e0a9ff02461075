-- Statements of the background jobs in internal/worker. River's own tables (river_job
-- and friends) are not in sqlc's schema, because River's migrator creates them, so the
-- few statements on river_job (fair-enqueue backlog, queue depth) are plain SQL in
-- internal/postgres/jobs_admin.go.

-- Weekly activity report ------------------------------------------------------------

-- name: TenantSlugPage :many
-- The report's system fan-out lists every tenant through the global slug lookup,
-- keyset-paged by slug (organizations is a tenant table: it is never scanned across
-- tenants). A renamed organization may hold more than one slug; the per-tenant job is
-- unique per tenant and week, so it is enqueued once.
SELECT slug, tenant_id
FROM tenant_slugs
WHERE slug > sqlc.arg(after_slug)::text
ORDER BY slug
LIMIT sqlc.arg(page_size);

-- name: ReportWeeklyActivity :one
-- One tenant's activity in [since, until), from its audit log (tenant_id, created_at
-- index): tasks created, distinct tasks moved to done, and distinct accounts that did
-- anything recorded.
SELECT
    count(*) FILTER (WHERE action = 'task.create')::bigint AS tasks_created,
    count(DISTINCT target_id) FILTER (WHERE action = 'task.update' AND changes ->> 'status' = 'done')::bigint AS tasks_completed,
    count(DISTINCT actor_id) FILTER (WHERE actor_type = 'account')::bigint AS active_members
FROM audit_logs
WHERE tenant_id = $1
  AND created_at >= sqlc.arg(since)::timestamptz
  AND created_at < sqlc.arg(until)::timestamptz;

-- name: ReportRecipients :many
-- The tenant's admins and owners, who receive the report.
SELECT account_id, role
FROM memberships
WHERE tenant_id = $1 AND role IN ('admin', 'owner')
ORDER BY account_id
LIMIT $2;

-- name: AccountContacts :many
-- Email address and name of the given accounts (global: accounts are keyed by id).
SELECT id, email, name
FROM accounts
WHERE id = ANY (sqlc.arg(ids)::uuid[])
ORDER BY id;

-- name: AuditActionRecorded :one
-- Whether the tenant's audit log holds action on target since a time: the durable
-- "already done" marker of a job that must act once (the weekly report of a week).
SELECT EXISTS (
    SELECT 1
    FROM audit_logs
    WHERE tenant_id = $1 AND action = $2 AND target_id = $3
      AND created_at >= sqlc.arg(since)::timestamptz
) AS recorded;
