-- Idempotency-Key replay records, per tenant and principal.

-- name: IdempotencyKeyClaim :execrows
-- Claims the key, or takes over an expired claim not yet purged, or one whose request
-- never finished (its server died: no response after a minute, with the same request).
-- 0 rows means a live claim exists: look it up instead.
INSERT INTO idempotency_keys AS i (tenant_id, principal, key, request_hash, expires_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, principal, key) DO UPDATE
SET request_hash = EXCLUDED.request_hash, status = NULL, response_body = NULL,
    created_at = now(), expires_at = EXCLUDED.expires_at
WHERE i.expires_at <= now()
   OR (i.status IS NULL AND i.created_at < now() - interval '1 minute' AND i.request_hash = EXCLUDED.request_hash);

-- name: IdempotencyKeyGet :one
SELECT tenant_id, principal, key, request_hash, status, response_body, created_at, expires_at
FROM idempotency_keys
WHERE tenant_id = $1 AND principal = $2 AND key = $3 AND expires_at > now();

-- name: IdempotencyKeyComplete :execrows
UPDATE idempotency_keys
SET status = $4, response_body = $5
WHERE tenant_id = $1 AND principal = $2 AND key = $3;

-- name: IdempotencyKeyPurgeExpired :execrows
-- System job, a named cross-tenant exception: RLS lets it see only expired rows and
-- only while app.maintenance = 'purge_expired' is set for the transaction.
DELETE FROM idempotency_keys
WHERE (tenant_id, principal, key) IN (
    SELECT i.tenant_id, i.principal, i.key FROM idempotency_keys i
    WHERE i.expires_at < now()
    LIMIT $1
);
