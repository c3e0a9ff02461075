-- Releasing an Idempotency-Key claim whose request failed on the server's side (5xx),
-- so that a retry with the same key runs again instead of waiting for the claim to
-- go stale. Only an unfinished claim is released: a stored response stays.

-- name: IdempotencyKeyRelease :execrows
DELETE FROM idempotency_keys
WHERE tenant_id = $1 AND principal = $2 AND key = $3 AND status IS NULL;
