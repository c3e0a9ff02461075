-- Identity: passwords, sessions, MFA, recovery codes, email tokens and signing keys.
-- None of these are tenant tables: they are keyed by account, by token hash or by key
-- id (signing_keys is a reference table), so every statement here runs in a global
-- transaction. Every statement on an account's rows says account_id (or id) = $1, so
-- one account can never reach another's sessions, codes or MFA state.

-- name: AccountSetPassword :execrows
UPDATE accounts
SET password_hash = $2, password_changed_at = now(), updated_at = now()
WHERE id = $1;

-- name: AccountMarkEmailVerified :execrows
-- Verifies the account's email only while it is still the address the token was sent
-- to; a second verification keeps the first time.
UPDATE accounts
SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
WHERE id = $1 AND email = $2;

-- name: SessionInsert :exec
-- Like SessionCreate (accounts.sql), with the browser cookie hash and the refresh
-- generation.
INSERT INTO sessions (account_id, id, refresh_hash, cookie_hash, refresh_generation, user_agent, ip, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: SessionGet :one
-- A live session only: revoked and expired sessions are not found.
SELECT account_id, id, refresh_hash, cookie_hash, refresh_generation, user_agent, ip,
       created_at, last_used_at, expires_at, revoked_at
FROM sessions
WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL AND expires_at > now();

-- name: SessionRotate :execrows
-- Swaps the refresh hash only if the presented one is current and the session is live;
-- 0 rows means a reused (rotated-away), unknown or dead token.
UPDATE sessions
SET refresh_hash = sqlc.arg(new_hash), refresh_generation = refresh_generation + 1, last_used_at = now()
WHERE account_id = $1 AND id = $2 AND refresh_hash = sqlc.arg(old_hash)
  AND revoked_at IS NULL AND expires_at > now();

-- name: SessionRevoke :execrows
-- Idempotent: revoking a revoked session keeps its first revocation time.
UPDATE sessions
SET revoked_at = COALESCE(revoked_at, now())
WHERE account_id = $1 AND id = $2;

-- name: SessionRevokeAll :exec
UPDATE sessions
SET revoked_at = now()
WHERE account_id = $1 AND revoked_at IS NULL;

-- name: SessionList :many
-- An account's live sessions, most recently used first, bounded by $2.
SELECT account_id, id, refresh_hash, cookie_hash, refresh_generation, user_agent, ip,
       created_at, last_used_at, expires_at, revoked_at
FROM sessions
WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > now()
ORDER BY last_used_at DESC, id DESC
LIMIT $2;

-- name: MFAGet :one
SELECT totp_secret, totp_pending_secret, totp_enabled_at, totp_last_step
FROM accounts
WHERE id = $1;

-- name: MFASetPending :execrows
UPDATE accounts
SET totp_pending_secret = $2, updated_at = now()
WHERE id = $1;

-- name: MFAActivate :execrows
-- Makes the pending secret active and records step as used (never moving it back);
-- 0 rows means there is no pending secret.
UPDATE accounts
SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(),
    totp_last_step = GREATEST(totp_last_step, sqlc.arg(step)::bigint), updated_at = now()
WHERE id = $1 AND totp_pending_secret IS NOT NULL;

-- name: MFADisable :execrows
-- Keeps totp_last_step: replay protection outlives an enrolment.
UPDATE accounts
SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, updated_at = now()
WHERE id = $1;

-- name: MFAUseStep :execrows
-- 0 rows means step is not newer than the last accepted one: a replay.
UPDATE accounts
SET totp_last_step = $2
WHERE id = $1 AND totp_last_step < $2;

-- name: RecoveryCodeList :many
SELECT code_hash
FROM recovery_codes
WHERE account_id = $1
ORDER BY created_at, code_hash;

-- name: RecoveryCodeDeleteAll :exec
DELETE FROM recovery_codes WHERE account_id = $1;

-- name: RecoveryCodeInsertMany :exec
INSERT INTO recovery_codes (account_id, code_hash)
SELECT sqlc.arg(account_id)::uuid, h
FROM unnest(sqlc.arg(code_hashes)::bytea[]) AS h;

-- name: RecoveryCodeUse :execrows
DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2;

-- name: EmailTokenCreate :exec
INSERT INTO email_tokens (token_hash, account_id, purpose, email, expires_at)
VALUES ($1, $2, $3, $4, $5);

-- name: EmailTokenConsume :one
-- Single use: only a live, unused token of the purpose is marked used and returned.
UPDATE email_tokens
SET used_at = now()
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
RETURNING token_hash, account_id, purpose, email, expires_at;

-- name: SigningKeyList :many
SELECT id, alg, sealed_key, created_at, retired_at
FROM signing_keys
ORDER BY created_at, id;

-- name: SigningKeyAdd :exec
INSERT INTO signing_keys (id, alg, sealed_key, created_at, retired_at)
VALUES ($1, $2, $3, COALESCE(sqlc.narg(created_at)::timestamptz, now()), sqlc.narg(retired_at));

-- name: SigningKeyRetire :execrows
-- Idempotent: retiring a retired key keeps its first retirement time.
UPDATE signing_keys
SET retired_at = COALESCE(retired_at, now())
WHERE id = $1;

-- name: EmailTokenPurgeExpired :execrows
-- System job: used or expired verification and reset tokens, in bounded batches.
DELETE FROM email_tokens
WHERE token_hash IN (
    SELECT e.token_hash FROM email_tokens e
    WHERE e.expires_at < now() OR e.used_at < now() - interval '1 day'
    LIMIT $1
);
