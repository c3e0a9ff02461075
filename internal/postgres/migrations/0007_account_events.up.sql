-- An account's security trail: sign-ins (and failed ones), second-factor changes,
-- password resets, refresh-token reuse. Accounts are global, not tenant data, so the
-- trail is keyed by account.
CREATE TABLE account_events (
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id         uuid        NOT NULL,
    event      text        NOT NULL CHECK (length(event) BETWEEN 1 AND 100),
    ip         inet,
    user_agent text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id)
);
CREATE INDEX account_events_page ON account_events (account_id, created_at DESC, id DESC);
-- Append-only for the application, like audit_logs.
GRANT SELECT, INSERT ON account_events TO coditect_app;
REVOKE UPDATE, DELETE, TRUNCATE ON account_events FROM coditect_app;
