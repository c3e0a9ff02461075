-- Identity and access: MFA state, recovery codes, single-use email tokens, browser
-- session cookies, invitations, and the signing keys of access tokens.

ALTER TABLE accounts
    ADD COLUMN totp_secret         bytea,            -- sealed (AES-GCM) with the app secret
    ADD COLUMN totp_pending_secret bytea,            -- sealed; set during enrolment until verified
    ADD COLUMN totp_enabled_at     timestamptz,
    ADD COLUMN totp_last_step      bigint NOT NULL DEFAULT 0, -- replay protection
    ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();

-- A browser session also has a cookie secret (hash only) besides its refresh token.
ALTER TABLE sessions
    ADD COLUMN cookie_hash bytea,
    ADD COLUMN refresh_generation integer NOT NULL DEFAULT 0;

-- Single-use MFA recovery codes, stored as hashes.
CREATE TABLE recovery_codes (
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, code_hash)
);

-- Email verification and password reset tokens: looked up by the hash of the token in
-- the link, single use, expiring.
CREATE TABLE email_tokens (
    token_hash bytea       NOT NULL PRIMARY KEY,
    account_id uuid        NOT NULL,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);

-- Invitations to join an organization (a tenant table) ...
CREATE TABLE invitations (
    tenant_id   uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    email       text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role        text        NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    invited_by  uuid,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash)
);
CREATE INDEX invitations_page ON invitations (tenant_id, created_at, id);

-- ... and the global token → invitation lookup that accepting one starts from.
CREATE TABLE invitation_tokens (
    token_hash    bytea       NOT NULL PRIMARY KEY,
    tenant_id     uuid        NOT NULL,
    invitation_id uuid        NOT NULL,
    expires_at    timestamptz NOT NULL
);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- Access-token signing keys, sealed with the app secret. Small and read everywhere: a
-- reference table on Citus.
CREATE TABLE signing_keys (
    id          text        NOT NULL PRIMARY KEY,
    alg         text        NOT NULL,
    sealed_key  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes, email_tokens, invitations, invitation_tokens, signing_keys TO coditect_app;
