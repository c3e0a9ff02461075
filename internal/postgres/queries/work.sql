-- Workspaces → projects → tasks. Every statement is scoped by tenant_id = $1 and pages
-- by (created_at, id) so a page is stable under concurrent inserts.

-- name: WorkspaceCreate :one
INSERT INTO workspaces (tenant_id, id, name, description)
VALUES ($1, $2, $3, $4)
RETURNING tenant_id, id, name, description, created_at, updated_at;

-- name: WorkspaceGet :one
SELECT tenant_id, id, name, description, created_at, updated_at
FROM workspaces
WHERE tenant_id = $1 AND id = $2;

-- name: WorkspaceList :many
SELECT tenant_id, id, name, description, created_at, updated_at
FROM workspaces
WHERE tenant_id = $1 AND (created_at, id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT $2;

-- name: WorkspaceUpdate :one
UPDATE workspaces
SET name = $3, description = $4, updated_at = now()
WHERE tenant_id = $1 AND id = $2
RETURNING tenant_id, id, name, description, created_at, updated_at;

-- name: WorkspaceDelete :execrows
DELETE FROM workspaces WHERE tenant_id = $1 AND id = $2;

-- name: ProjectCreate :one
INSERT INTO projects (tenant_id, id, workspace_id, name, description)
VALUES ($1, $2, $3, $4, $5)
RETURNING tenant_id, id, workspace_id, name, description, created_at, updated_at;

-- name: ProjectGet :one
SELECT tenant_id, id, workspace_id, name, description, created_at, updated_at
FROM projects
WHERE tenant_id = $1 AND id = $2;

-- name: ProjectList :many
SELECT tenant_id, id, workspace_id, name, description, created_at, updated_at
FROM projects
WHERE tenant_id = $1
  AND (sqlc.narg(workspace_id)::uuid IS NULL OR workspace_id = sqlc.narg(workspace_id))
  AND (created_at, id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT $2;

-- name: ProjectUpdate :one
UPDATE projects
SET name = $3, description = $4, updated_at = now()
WHERE tenant_id = $1 AND id = $2
RETURNING tenant_id, id, workspace_id, name, description, created_at, updated_at;

-- name: ProjectDelete :execrows
DELETE FROM projects WHERE tenant_id = $1 AND id = $2;

-- name: TaskCreate :one
INSERT INTO tasks (tenant_id, id, project_id, title, description, status, assignee_id, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at;

-- name: TaskGet :one
SELECT tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at
FROM tasks
WHERE tenant_id = $1 AND id = $2;

-- name: TaskList :many
SELECT tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at
FROM tasks
WHERE tenant_id = $1 AND project_id = $2
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(assignee_id)::uuid IS NULL OR assignee_id = sqlc.narg(assignee_id))
  AND (created_at, id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT $3;

-- name: TaskUpdate :one
UPDATE tasks
SET title = $3, description = $4, status = $5, assignee_id = $6, due_at = $7, updated_at = now()
WHERE tenant_id = $1 AND id = $2
RETURNING tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at;

-- name: TaskDelete :execrows
DELETE FROM tasks WHERE tenant_id = $1 AND id = $2;

-- name: WorkspaceGetForUpdate :one
SELECT tenant_id, id, name, description, created_at, updated_at
FROM workspaces
WHERE tenant_id = $1 AND id = $2
FOR UPDATE;

-- name: ProjectGetForUpdate :one
SELECT tenant_id, id, workspace_id, name, description, created_at, updated_at
FROM projects
WHERE tenant_id = $1 AND id = $2
FOR UPDATE;

-- name: TaskGetForUpdate :one
SELECT tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at
FROM tasks
WHERE tenant_id = $1 AND id = $2
FOR UPDATE;

-- name: ProjectIDsInWorkspaceForUpdate :many
-- Locks a workspace's projects so no task can be added to them before the workspace
-- is deleted (aggregates cannot take FOR UPDATE: the caller counts the rows).
SELECT id
FROM projects
WHERE tenant_id = $1 AND workspace_id = $2
FOR UPDATE;

-- name: TaskCountInProject :one
SELECT count(*)
FROM tasks
WHERE tenant_id = $1 AND project_id = $2;

-- name: TaskCountInWorkspace :one
SELECT count(*)
FROM tasks t
JOIN projects p ON p.tenant_id = t.tenant_id AND p.id = t.project_id
WHERE t.tenant_id = $1 AND p.workspace_id = $2;
