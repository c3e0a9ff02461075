-- Data exports (internal/export): the exports records (a tenant table: every statement
-- says tenant_id = $1), the export_files record of archive files (keyed by
-- organization_id; not tenant data), the snapshot reads that stream a tenant's rows
-- in keyset pages (primary key order), and the importer's writes of rows as exported.

-- name: ExportCreate :one
INSERT INTO exports (tenant_id, id, status, requested_by)
VALUES ($1, $2, 'pending', $3)
RETURNING tenant_id, id, status, requested_by, created_at, started_at, completed_at, expires_at, purged_at, storage_key, size_bytes, counts, error;

-- name: ExportGet :one
SELECT tenant_id, id, status, requested_by, created_at, started_at, completed_at, expires_at, purged_at, storage_key, size_bytes, counts, error
FROM exports
WHERE tenant_id = $1 AND id = $2;

-- name: ExportGetForUpdate :one
SELECT tenant_id, id, status, requested_by, created_at, started_at, completed_at, expires_at, purged_at, storage_key, size_bytes, counts, error
FROM exports
WHERE tenant_id = $1 AND id = $2
FOR UPDATE;

-- name: ExportList :many
-- Newest first, before the position (before_created_at, before_id).
SELECT tenant_id, id, status, requested_by, created_at, started_at, completed_at, expires_at, purged_at, storage_key, size_bytes, counts, error
FROM exports
WHERE tenant_id = $1
  AND (created_at, id) < (sqlc.arg(before_created_at)::timestamptz, sqlc.arg(before_id)::uuid)
ORDER BY created_at DESC, id DESC
LIMIT $2;

-- name: ExportSave :one
UPDATE exports
SET status = $3, started_at = $4, completed_at = $5, expires_at = $6, purged_at = $7,
    storage_key = $8, size_bytes = $9, counts = $10, error = $11
WHERE tenant_id = $1 AND id = $2
RETURNING tenant_id, id, status, requested_by, created_at, started_at, completed_at, expires_at, purged_at, storage_key, size_bytes, counts, error;

-- name: ExportFileSave :exec
INSERT INTO export_files (organization_id, export_id, storage_key, expires_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (organization_id, export_id) DO UPDATE
SET storage_key = excluded.storage_key, expires_at = excluded.expires_at;

-- name: ExportFileForget :execrows
-- Only a record whose expiry has passed: one moved by a re-run is kept.
DELETE FROM export_files
WHERE organization_id = $1 AND export_id = $2 AND expires_at <= now();

-- name: ExportFilesExpired :many
-- The purge's cross-key scan (export_files is not tenant data); on Citus a fan-out once
-- per period, like the session purge.
SELECT organization_id, export_id, storage_key, expires_at
FROM export_files
WHERE expires_at <= now()
ORDER BY expires_at
LIMIT $1;

-- name: ExportFilesExpireMany :execrows
-- The eraser: an erased tenant's archives expire now, so the purge deletes them.
UPDATE export_files
SET expires_at = LEAST(expires_at, now())
WHERE organization_id = sqlc.arg(tenant_id) AND export_id = ANY (sqlc.arg(export_ids)::uuid[]);

-- name: EraseExports :many
DELETE FROM exports AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT e.id FROM exports AS e WHERE e.tenant_id = $1 LIMIT sqlc.arg(batch)::integer)
RETURNING x.id;

-- name: AccountsExisting :many
SELECT id FROM accounts WHERE id = ANY (sqlc.arg(ids)::uuid[]);

-- name: ExportOrganizationRow :one
SELECT id, slug, name, created_at, updated_at, deleted_at
FROM organizations
WHERE id = sqlc.arg(tenant_id);

-- name: ExportMemberPage :many
SELECT tenant_id, account_id, role, created_at, updated_at
FROM memberships
WHERE tenant_id = $1 AND account_id > sqlc.arg(after)::uuid
ORDER BY account_id
LIMIT $2;

-- name: ExportWorkspacePage :many
SELECT tenant_id, id, name, description, created_at, updated_at
FROM workspaces
WHERE tenant_id = $1 AND id > sqlc.arg(after)::uuid
ORDER BY id
LIMIT $2;

-- name: ExportProjectPage :many
SELECT tenant_id, id, workspace_id, name, description, created_at, updated_at
FROM projects
WHERE tenant_id = $1 AND id > sqlc.arg(after)::uuid
ORDER BY id
LIMIT $2;

-- name: ExportTaskPage :many
SELECT tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at
FROM tasks
WHERE tenant_id = $1 AND id > sqlc.arg(after)::uuid
ORDER BY id
LIMIT $2;

-- name: ExportAuditLogPage :many
SELECT tenant_id, id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, changes, created_at
FROM audit_logs
WHERE tenant_id = $1 AND id > sqlc.arg(after)::uuid
ORDER BY id
LIMIT $2;

-- name: ImportOrganization :exec
INSERT INTO organizations (id, slug, name, created_at, updated_at, deleted_at)
VALUES (sqlc.arg(tenant_id), sqlc.arg(slug), sqlc.arg(name), sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.narg(deleted_at));

-- The batch writes take the rows as a JSON array (the export's own row format) and
-- write them with the transaction's tenant; rows keep their ids and times.

-- name: ImportMemberships :exec
INSERT INTO memberships (tenant_id, account_id, role, created_at, updated_at)
SELECT sqlc.arg(tenant_id)::uuid, (r ->> 'account_id')::uuid, r ->> 'role',
       (r ->> 'created_at')::timestamptz, (r ->> 'updated_at')::timestamptz
FROM json_array_elements(sqlc.arg(rows)::json) AS r;

-- name: ImportAccountMemberships :exec
INSERT INTO account_memberships (account_id, tenant_id, role, created_at)
SELECT (r ->> 'account_id')::uuid, sqlc.arg(tenant_id)::uuid, r ->> 'role', (r ->> 'created_at')::timestamptz
FROM json_array_elements(sqlc.arg(rows)::json) AS r;

-- name: ImportWorkspaces :exec
INSERT INTO workspaces (tenant_id, id, name, description, created_at, updated_at)
SELECT sqlc.arg(tenant_id)::uuid, (r ->> 'id')::uuid, r ->> 'name', r ->> 'description',
       (r ->> 'created_at')::timestamptz, (r ->> 'updated_at')::timestamptz
FROM json_array_elements(sqlc.arg(rows)::json) AS r;

-- name: ImportProjects :exec
INSERT INTO projects (tenant_id, id, workspace_id, name, description, created_at, updated_at)
SELECT sqlc.arg(tenant_id)::uuid, (r ->> 'id')::uuid, (r ->> 'workspace_id')::uuid, r ->> 'name', r ->> 'description',
       (r ->> 'created_at')::timestamptz, (r ->> 'updated_at')::timestamptz
FROM json_array_elements(sqlc.arg(rows)::json) AS r;

-- name: ImportTasks :exec
INSERT INTO tasks (tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at)
SELECT sqlc.arg(tenant_id)::uuid, (r ->> 'id')::uuid, (r ->> 'project_id')::uuid, r ->> 'title', r ->> 'description', r ->> 'status',
       (r ->> 'assignee_id')::uuid, (r ->> 'due_at')::timestamptz,
       (r ->> 'created_at')::timestamptz, (r ->> 'updated_at')::timestamptz
FROM json_array_elements(sqlc.arg(rows)::json) AS r;

-- name: ImportAuditLogs :exec
INSERT INTO audit_logs (tenant_id, id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, changes, created_at)
SELECT sqlc.arg(tenant_id)::uuid, (r ->> 'id')::uuid, r ->> 'actor_type', (r ->> 'actor_id')::uuid, r ->> 'action',
       r ->> 'target_type', r ->> 'target_id', (r ->> 'ip')::inet, r ->> 'user_agent',
       COALESCE((r -> 'changes')::jsonb, '{}'::jsonb), (r ->> 'created_at')::timestamptz
FROM json_array_elements(sqlc.arg(rows)::json) AS r;
