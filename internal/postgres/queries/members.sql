-- Members, invitations and API keys of an organization (tenant tables, every statement
-- scoped by tenant_id = $1), and the global lookups kept in step with them
-- (account_memberships by account, invitation_tokens by token hash, api_key_prefixes
-- by prefix). Lists page by (created_at, id); memberships by (created_at, account_id).

-- name: MembershipList :many
SELECT tenant_id, account_id, role, created_at, updated_at
FROM memberships
WHERE tenant_id = $1
  AND (created_at, account_id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_account_id)::uuid)
ORDER BY created_at, account_id
LIMIT $2;

-- name: MembershipOwnersForUpdate :many
-- Locks the tenant's owner rows (aggregates cannot take FOR UPDATE: the caller counts).
SELECT account_id
FROM memberships
WHERE tenant_id = $1 AND role = 'owner'
ORDER BY account_id
FOR UPDATE;

-- name: MembershipGetForUpdate :one
SELECT tenant_id, account_id, role, created_at, updated_at
FROM memberships
WHERE tenant_id = $1 AND account_id = $2
FOR UPDATE;

-- name: MembershipUpdateRole :execrows
UPDATE memberships
SET role = $3, updated_at = now()
WHERE tenant_id = $1 AND account_id = $2;

-- name: MembershipDelete :execrows
DELETE FROM memberships WHERE tenant_id = $1 AND account_id = $2;

-- name: AccountMembershipUpdateRole :execrows
UPDATE account_memberships
SET role = $3
WHERE account_id = $1 AND tenant_id = $2;

-- name: AccountMembershipDelete :execrows
DELETE FROM account_memberships WHERE account_id = $1 AND tenant_id = $2;

-- name: InvitationCreate :exec
INSERT INTO invitations (tenant_id, id, email, role, invited_by, token_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: InvitationTokenCreate :exec
INSERT INTO invitation_tokens (token_hash, tenant_id, invitation_id, expires_at)
VALUES ($1, $2, $3, $4);

-- name: InvitationSetToken :one
-- Replaces the invitation's token hash and returns the previous one, so the caller can
-- swap the global lookup row (a row lock on the invitation serializes replacements).
UPDATE invitations AS i
SET token_hash = sqlc.arg(new_hash)
FROM (
    SELECT o.token_hash FROM invitations AS o
    WHERE o.tenant_id = $1 AND o.id = $2
    FOR UPDATE
) AS old
WHERE i.tenant_id = $1 AND i.id = $2
RETURNING old.token_hash;

-- name: InvitationTokenDelete :exec
-- Removes one invitation's lookup row; the invitation columns guard against deleting
-- a row that belongs to another invitation.
DELETE FROM invitation_tokens
WHERE token_hash = $1 AND tenant_id = $2 AND invitation_id = $3;

-- name: InvitationByToken :one
SELECT tenant_id, invitation_id
FROM invitation_tokens
WHERE token_hash = $1;

-- name: InvitationList :many
SELECT tenant_id, id, email, role, invited_by, token_hash, created_at, expires_at, accepted_at, accepted_by, revoked_at
FROM invitations
WHERE tenant_id = $1
  AND (created_at, id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT $2;

-- name: InvitationGetForUpdate :one
SELECT tenant_id, id, email, role, invited_by, token_hash, created_at, expires_at, accepted_at, accepted_by, revoked_at
FROM invitations
WHERE tenant_id = $1 AND id = $2
FOR UPDATE;

-- name: InvitationAccept :one
-- Only a pending (not accepted, not revoked, not expired) invitation is accepted; no
-- row means there was none. Returns the role the new membership gets.
UPDATE invitations
SET accepted_at = now(), accepted_by = sqlc.arg(accepted_by)
WHERE tenant_id = $1 AND id = $2
  AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
RETURNING role;

-- name: InvitationRevoke :execrows
-- Idempotent for a revoked invitation; an accepted one cannot be revoked (0 rows).
UPDATE invitations
SET revoked_at = COALESCE(revoked_at, now())
WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL;

-- name: APIKeyPrefixClaim :execrows
-- Claims a prefix for a key; 0 rows means the prefix is taken (in any tenant).
INSERT INTO api_key_prefixes (prefix, tenant_id, key_id)
VALUES ($1, $2, $3)
ON CONFLICT (prefix) DO NOTHING;

-- name: APIKeyCreate :exec
INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, role, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: APIKeyByPrefix :one
SELECT tenant_id, key_id
FROM api_key_prefixes
WHERE prefix = $1;

-- name: APIKeyGet :one
SELECT tenant_id, id, name, prefix, secret_hash, role, created_by, created_at, last_used_at, expires_at, revoked_at
FROM api_keys
WHERE tenant_id = $1 AND id = $2;

-- name: APIKeyList :many
SELECT tenant_id, id, name, prefix, secret_hash, role, created_by, created_at, last_used_at, expires_at, revoked_at
FROM api_keys
WHERE tenant_id = $1
  AND (created_at, id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT $2;

-- name: APIKeyRevoke :execrows
-- Idempotent: revoking a revoked key keeps its first revocation time. The prefix row
-- stays, so a presented key still finds its record and sees it revoked.
UPDATE api_keys
SET revoked_at = COALESCE(revoked_at, now())
WHERE tenant_id = $1 AND id = $2;

-- name: APIKeysTouch :execrows
-- Records last use times for many keys of one tenant in one statement, only ever
-- moving last_used_at forward.
UPDATE api_keys AS k
SET last_used_at = GREATEST(k.last_used_at, u.used_at)
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id, unnest(sqlc.arg(used_at)::timestamptz[]) AS used_at) AS u
WHERE k.tenant_id = $1 AND k.id = u.id
  AND (k.last_used_at IS NULL OR k.last_used_at < u.used_at);
