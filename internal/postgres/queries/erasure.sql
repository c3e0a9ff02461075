-- Deleting an organization and erasing its tenant. Tenant tables: every statement says
-- tenant_id = $1 (organizations: id = $1), including the subqueries that pick a batch.
-- Global lookups are deleted by their own key (the values the batch returned), with the
-- tenant as a guard. tenant_deletions is keyed by organization_id.

-- name: OrganizationMarkDeleted :one
-- Marks the transaction's organization deleted; no row when it already is.
UPDATE organizations
SET deleted_at = now(), updated_at = now()
WHERE id = sqlc.arg(tenant_id) AND deleted_at IS NULL
RETURNING id, slug, name, created_at, updated_at;

-- name: MembershipDeleteAll :many
-- Removes every member of the tenant and returns their accounts, so the caller can
-- delete the matching account_memberships rows.
DELETE FROM memberships
WHERE tenant_id = $1
RETURNING account_id;

-- name: AccountMembershipDeleteMany :execrows
DELETE FROM account_memberships
WHERE account_id = ANY (sqlc.arg(account_ids)::uuid[]) AND tenant_id = sqlc.arg(tenant_id);

-- name: APIKeyRevokeAll :execrows
UPDATE api_keys
SET revoked_at = now()
WHERE tenant_id = $1 AND revoked_at IS NULL;

-- name: InvitationRevokeAll :execrows
-- Revokes every pending invitation; accepted ones stay as they are.
UPDATE invitations
SET revoked_at = now()
WHERE tenant_id = $1 AND revoked_at IS NULL AND accepted_at IS NULL;

-- name: OAuthClientRevokeAll :execrows
-- A revoked client's codes and tokens stop working at once (see internal/oauth).
UPDATE oauth_clients
SET revoked_at = now()
WHERE tenant_id = $1 AND revoked_at IS NULL;

-- name: TenantDeletionCreate :exec
INSERT INTO tenant_deletions (organization_id, slug, name, domains, requested_by, rows_deleted)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: TenantDeletionGet :one
SELECT organization_id, slug, name, domains, requested_by, requested_at, started_at, completed_at, rows_deleted
FROM tenant_deletions
WHERE organization_id = $1;

-- name: TenantDeletionBegin :one
-- Starts (or resumes) one erase batch: locks the record, so erasers of one tenant
-- take turns, and stamps the first start.
UPDATE tenant_deletions
SET started_at = COALESCE(started_at, now())
WHERE organization_id = $1
RETURNING slug, domains, completed_at;

-- name: TenantDeletionAddRows :exec
-- Adds a batch's per-table counts (a JSON object of integers) to rows_deleted, in the
-- batch's own transaction, so the totals stay exact across crashes and retries.
UPDATE tenant_deletions AS d
SET rows_deleted = d.rows_deleted || (
    SELECT COALESCE(jsonb_object_agg(c.key, COALESCE((d.rows_deleted ->> c.key)::bigint, 0) + c.value::bigint), '{}'::jsonb)
    FROM jsonb_each_text(sqlc.arg(counts)::jsonb) AS c
)
WHERE d.organization_id = sqlc.arg(organization_id);

-- name: TenantDeletionComplete :exec
UPDATE tenant_deletions
SET completed_at = COALESCE(completed_at, now())
WHERE organization_id = $1;

-- name: OrganizationLockDeleted :many
-- Locks the organization row for the batch (FOR UPDATE conflicts with the KEY SHARE
-- lock every insert into a tenant table takes through its foreign key), so no row can
-- slip in while the eraser works. No row: the organization is already gone.
SELECT deleted_at
FROM organizations
WHERE id = sqlc.arg(tenant_id)
FOR UPDATE;

-- name: EraseTasks :execrows
DELETE FROM tasks AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT t.id FROM tasks AS t WHERE t.tenant_id = $1 LIMIT sqlc.arg(batch)::integer);

-- name: EraseProjects :execrows
DELETE FROM projects AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT p.id FROM projects AS p WHERE p.tenant_id = $1 LIMIT sqlc.arg(batch)::integer);

-- name: EraseWorkspaces :execrows
DELETE FROM workspaces AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT w.id FROM workspaces AS w WHERE w.tenant_id = $1 LIMIT sqlc.arg(batch)::integer);

-- name: EraseIdempotencyKeys :execrows
DELETE FROM idempotency_keys AS x
WHERE x.tenant_id = $1
  AND (x.principal, x.key) IN (SELECT k.principal, k.key FROM idempotency_keys AS k WHERE k.tenant_id = $1 LIMIT sqlc.arg(batch)::integer);

-- name: EraseInvitations :many
DELETE FROM invitations AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT i.id FROM invitations AS i WHERE i.tenant_id = $1 LIMIT sqlc.arg(batch)::integer)
RETURNING x.token_hash;

-- name: InvitationTokensDeleteMany :execrows
DELETE FROM invitation_tokens
WHERE token_hash = ANY (sqlc.arg(token_hashes)::bytea[]) AND tenant_id = sqlc.arg(tenant_id);

-- name: EraseAPIKeys :many
DELETE FROM api_keys AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT k.id FROM api_keys AS k WHERE k.tenant_id = $1 LIMIT sqlc.arg(batch)::integer)
RETURNING x.prefix;

-- name: APIKeyPrefixesDeleteMany :execrows
DELETE FROM api_key_prefixes
WHERE prefix = ANY (sqlc.arg(prefixes)::text[]) AND tenant_id = sqlc.arg(tenant_id);

-- name: EraseOAuthClients :many
DELETE FROM oauth_clients AS x
WHERE x.tenant_id = $1
  AND x.id IN (SELECT c.id FROM oauth_clients AS c WHERE c.tenant_id = $1 LIMIT sqlc.arg(batch)::integer)
RETURNING x.client_id;

-- name: OAuthClientIDsDeleteMany :execrows
DELETE FROM oauth_client_ids
WHERE client_id = ANY (sqlc.arg(client_ids)::text[]) AND tenant_id = sqlc.arg(tenant_id);

-- name: EraseOAuthRequests :execrows
-- oauth_requests is distributed by signature, so on Citus this fans out to every
-- shard; it runs only while an organization is erased (index oauth_requests_tenant).
DELETE FROM oauth_requests
WHERE (signature, kind) IN (
    SELECT r.signature, r.kind FROM oauth_requests AS r
    WHERE r.tenant_id = $1
    LIMIT sqlc.arg(batch)::integer
);

-- name: EraseAuditLogs :one
-- audit_logs is append-only for the application role: the SECURITY DEFINER function
-- (migration 0005) deletes a batch, only for a tenant marked deleted and only the
-- tenant this transaction is scoped to.
SELECT erase_tenant_audit_logs(sqlc.arg(tenant_id)::uuid, sqlc.arg(batch)::integer)::bigint AS deleted;

-- name: EraseMemberships :many
DELETE FROM memberships AS x
WHERE x.tenant_id = $1
  AND x.account_id IN (SELECT m.account_id FROM memberships AS m WHERE m.tenant_id = $1 LIMIT sqlc.arg(batch)::integer)
RETURNING x.account_id;

-- name: EraseOrganization :execrows
-- Last: the organization row, only when it is marked deleted.
DELETE FROM organizations
WHERE id = sqlc.arg(tenant_id) AND deleted_at IS NOT NULL;

-- name: TenantSlugRelease :execrows
DELETE FROM tenant_slugs
WHERE slug = $1 AND tenant_id = $2;

-- name: TenantDomainsRelease :execrows
DELETE FROM tenant_domains
WHERE domain = ANY (sqlc.arg(domains)::text[]) AND tenant_id = sqlc.arg(tenant_id);
