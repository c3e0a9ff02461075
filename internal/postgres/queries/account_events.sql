-- An account's security trail (keyed by account, append-only for the app role).

-- name: AccountEventInsert :exec
INSERT INTO account_events (account_id, id, event, ip, user_agent)
VALUES ($1, $2, $3, $4, $5);

-- name: AccountEventList :many
SELECT account_id, id, event, ip, user_agent, created_at
FROM account_events
WHERE account_id = $1
ORDER BY created_at DESC, id DESC
LIMIT $2;
