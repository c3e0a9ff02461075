-- The append-only audit log. The app role has no UPDATE or DELETE on it.

-- name: AuditLogInsert :exec
INSERT INTO audit_logs (tenant_id, id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, changes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: AuditLogList :many
-- Newest first, before the cursor position, optionally filtered by actor, action and
-- a [since, until) time range.
SELECT tenant_id, id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, changes, created_at
FROM audit_logs
WHERE tenant_id = $1
  AND (sqlc.narg(actor_id)::uuid IS NULL OR actor_id = sqlc.narg(actor_id))
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action))
  AND created_at >= sqlc.arg(since)::timestamptz
  AND created_at < sqlc.arg(until)::timestamptz
  AND (created_at, id) < (sqlc.arg(before_created_at)::timestamptz, sqlc.arg(before_id)::uuid)
ORDER BY created_at DESC, id DESC
LIMIT $2;
