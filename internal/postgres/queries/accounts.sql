-- Global identities. Not tenant tables: they are looked up by their own keys.

-- name: AccountCreate :exec
INSERT INTO accounts (id, email, name, password_hash)
VALUES ($1, $2, $3, $4);

-- name: AccountEmailClaim :execrows
-- Claims an email for an account; 0 rows means the email is taken.
INSERT INTO account_emails (email, account_id)
VALUES ($1, $2)
ON CONFLICT (email) DO NOTHING;

-- name: AccountGetByEmail :one
SELECT a.id, a.email, a.name, a.password_hash, a.email_verified_at, a.created_at, a.updated_at
FROM account_emails e
JOIN accounts a ON a.id = e.account_id
WHERE e.email = $1;

-- name: AccountGet :one
SELECT id, email, name, password_hash, email_verified_at, created_at, updated_at
FROM accounts
WHERE id = $1;

-- name: AccountMembershipCreate :exec
INSERT INTO account_memberships (account_id, tenant_id, role)
VALUES ($1, $2, $3);

-- name: AccountMembershipList :many
SELECT tenant_id, role, created_at
FROM account_memberships
WHERE account_id = $1
ORDER BY created_at, tenant_id;

-- name: SessionPurgeExpired :execrows
-- System job: sessions are keyed by account, not tenant, so this is an ordinary
-- bounded delete; batches keep each transaction short.
DELETE FROM sessions
WHERE (account_id, id) IN (
    SELECT s.account_id, s.id FROM sessions s
    WHERE s.expires_at < now() OR s.revoked_at < now() - interval '30 days'
    LIMIT $1
);

-- name: AccountProfiles :many
-- The names and email addresses of the given accounts (a member list's people). The
-- caller passes only ids it got from its own tenant's memberships.
SELECT id, email, name
FROM accounts
WHERE id = ANY(sqlc.arg(ids)::uuid[]);
