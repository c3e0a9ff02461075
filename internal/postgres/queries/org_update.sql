-- Renaming an organization (PATCH /v1/orgs/{org}), under a row lock so If-Match is
-- checked against the row as it is inside the write transaction.

-- name: OrganizationGetForUpdate :one
SELECT id, slug, name, created_at, updated_at
FROM organizations
WHERE id = sqlc.arg(tenant_id) AND deleted_at IS NULL
FOR UPDATE;

-- name: OrganizationRename :one
UPDATE organizations
SET name = sqlc.arg(name), updated_at = now()
WHERE id = sqlc.arg(tenant_id) AND deleted_at IS NULL
RETURNING id, slug, name, created_at, updated_at;
