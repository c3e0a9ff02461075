-- OAuth2 / OpenID Connect provider. oauth_clients is a tenant table: every statement
-- says tenant_id = $1. oauth_client_ids (by client_id) and oauth_requests (by
-- signature) are global tables distributed by their own key.

-- name: OAuthClientCreate :one
INSERT INTO oauth_clients (tenant_id, id, client_id, name, secret_hash, redirect_uris, grant_types, scopes, public, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING tenant_id, id, client_id, name, secret_hash, redirect_uris, grant_types, scopes, public, created_by, created_at, revoked_at;

-- name: OAuthClientIDClaim :execrows
-- Claims a client_id for a client; 0 rows means the id is taken.
INSERT INTO oauth_client_ids (client_id, tenant_id, client_uuid)
VALUES ($1, $2, $3)
ON CONFLICT (client_id) DO NOTHING;

-- name: OAuthClientIDLookup :one
SELECT tenant_id, client_uuid FROM oauth_client_ids WHERE client_id = $1;

-- name: OAuthClientGet :one
SELECT tenant_id, id, client_id, name, secret_hash, redirect_uris, grant_types, scopes, public, created_by, created_at, revoked_at
FROM oauth_clients
WHERE tenant_id = $1 AND id = $2;

-- name: OAuthClientList :many
SELECT tenant_id, id, client_id, name, secret_hash, redirect_uris, grant_types, scopes, public, created_by, created_at, revoked_at
FROM oauth_clients
WHERE tenant_id = $1 AND (created_at, id) > (sqlc.arg(after_created_at)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT $2;

-- name: OAuthClientRevoke :one
UPDATE oauth_clients
SET revoked_at = now()
WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
RETURNING tenant_id, id, client_id, name, secret_hash, redirect_uris, grant_types, scopes, public, created_by, created_at, revoked_at;

-- name: OAuthRequestCreate :exec
INSERT INTO oauth_requests (signature, kind, request_id, client_id, tenant_id, account_id, request, requested_at, expires_at, active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: OAuthRequestGet :one
SELECT signature, kind, request_id, client_id, tenant_id, account_id, request, requested_at, expires_at, active
FROM oauth_requests
WHERE signature = $1 AND kind = $2;

-- name: OAuthRequestDelete :execrows
DELETE FROM oauth_requests WHERE signature = $1 AND kind = $2;

-- name: OAuthRequestDeactivate :execrows
-- Compare-and-set: 1 row only for the caller that turned an active row inactive, so two
-- concurrent uses of one authorization code or refresh token cannot both succeed.
UPDATE oauth_requests SET active = false
WHERE signature = $1 AND kind = $2 AND active;

-- name: OAuthRequestDeactivateByRequestID :execrows
-- Fans out on Citus (request_id is not the distribution column); only revocations use it.
UPDATE oauth_requests SET active = false
WHERE request_id = $1 AND kind = $2 AND active;

-- name: OAuthRequestDeleteByRequestID :execrows
-- Fans out on Citus (request_id is not the distribution column); only revocations use it.
DELETE FROM oauth_requests WHERE request_id = $1 AND kind = $2;

-- name: OAuthRequestPurgeExpired :execrows
-- System job: expired codes and tokens, in bounded batches. Inactive rows are kept
-- until they expire, so reuse of a used code or rotated refresh token is still seen.
DELETE FROM oauth_requests
WHERE (signature, kind) IN (
    SELECT r.signature, r.kind FROM oauth_requests r
    WHERE r.expires_at < now()
    LIMIT $1
);

-- name: OAuthRequestRevokeForAccount :execrows
-- Ends every grant an account made to applications (after a password reset).
-- oauth_requests is keyed by signature, so on Citus this reaches every shard; it is rare.
UPDATE oauth_requests SET active = false WHERE account_id = $1 AND active;
