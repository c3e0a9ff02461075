-- CODITECT schema v1. Citus rules (ARCHITECTURE.md): every tenant table has
-- tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id), foreign keys and unique
-- constraints that include tenant_id, UUID keys (never identity columns), and
-- ENABLE + FORCE row-level security with the fail-closed policy below. Values that
-- must be unique across all tenants live in small lookup tables keyed by that value.
-- internal/postgres/manifest.go classifies every table; a test keeps the two in step.

-- The application logs in as (or as a member of) coditect_app: it owns nothing and
-- cannot bypass row-level security. Migrations run as the owner role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coditect_app') THEN
        CREATE ROLE coditect_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

-- Tables created later by this role (River's included) are usable by the app role.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO coditect_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO coditect_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO coditect_app;
GRANT USAGE ON SCHEMA public TO coditect_app;

-- ---------------------------------------------------------------------------
-- Global identities (distributed by their own key).

CREATE TABLE accounts (
    id                uuid        NOT NULL PRIMARY KEY,
    email             text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name              text        NOT NULL CHECK (length(name) <= 200),
    password_hash     text        NOT NULL,
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- One email, one account, case-insensitively: the app stores the lowercased address.
CREATE TABLE account_emails (
    email      text        NOT NULL PRIMARY KEY CHECK (email = lower(email)),
    account_id uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- An account's organizations, keyed by account so "my organizations" is one shard.
-- Kept in step with memberships in the same transaction.
CREATE TABLE account_memberships (
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tenant_id  uuid        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, tenant_id)
);

-- Login sessions; the refresh token is stored only as a SHA-256 hash.
CREATE TABLE sessions (
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    refresh_hash bytea       NOT NULL,
    user_agent   text        NOT NULL DEFAULT '',
    ip           inet,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- ---------------------------------------------------------------------------
-- Tenants and their global lookups.

-- An organization is a tenant: its id is the tenant_id of every row it owns.
CREATE TABLE organizations (
    id         uuid        NOT NULL PRIMARY KEY,
    slug       text        NOT NULL,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

-- slug → tenant, unique across tenants.
CREATE TABLE tenant_slugs (
    slug       text        NOT NULL PRIMARY KEY CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$'),
    tenant_id  uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- host name ({slug}.{base domain}, later custom domains) → tenant, unique across tenants.
CREATE TABLE tenant_domains (
    domain     text        NOT NULL PRIMARY KEY CHECK (domain = lower(domain) AND length(domain) <= 253),
    tenant_id  uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API key prefix → key, so a presented key finds its tenant without a scan.
CREATE TABLE api_key_prefixes (
    prefix     text        NOT NULL PRIMARY KEY,
    tenant_id  uuid        NOT NULL,
    key_id     uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Tenant tables (distributed by tenant_id, co-located).

CREATE TABLE memberships (
    tenant_id  uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id uuid        NOT NULL, -- accounts is distributed by id: no co-located FK possible
    role       text        NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id)
);

CREATE TABLE workspaces (
    tenant_id   uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX workspaces_page ON workspaces (tenant_id, created_at, id);

CREATE TABLE projects (
    tenant_id    uuid        NOT NULL,
    id           uuid        NOT NULL,
    workspace_id uuid        NOT NULL,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text        NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX projects_page ON projects (tenant_id, created_at, id);
CREATE INDEX projects_workspace ON projects (tenant_id, workspace_id, created_at, id);

CREATE TABLE tasks (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    project_id  uuid        NOT NULL,
    title       text        NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description text        NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    status      text        NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in_progress', 'done', 'canceled')),
    assignee_id uuid,
    due_at      timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES memberships (tenant_id, account_id) ON DELETE SET NULL (assignee_id)
);
CREATE INDEX tasks_project_page ON tasks (tenant_id, project_id, created_at, id);
CREATE INDEX tasks_assignee ON tasks (tenant_id, assignee_id) WHERE assignee_id IS NOT NULL;

-- Append-only: the application role may insert and read, never update or delete.
CREATE TABLE audit_logs (
    tenant_id   uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    actor_type  text        NOT NULL CHECK (actor_type IN ('account', 'api_key', 'system')),
    actor_id    uuid,
    action      text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target_type text        NOT NULL DEFAULT '',
    target_id   text        NOT NULL DEFAULT '',
    ip          inet,
    user_agent  text        NOT NULL DEFAULT '',
    changes     jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_logs_page ON audit_logs (tenant_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
    tenant_id    uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix       text        NOT NULL,
    secret_hash  bytea       NOT NULL,
    role         text        NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, prefix)
);

-- Idempotency-Key replay store, per tenant and principal, kept 24 h.
CREATE TABLE idempotency_keys (
    tenant_id     uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    principal     text        NOT NULL,
    key           text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  bytea       NOT NULL,
    status        integer,
    response_body bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, principal, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- ---------------------------------------------------------------------------
-- Row-level security: the backstop behind "every statement says tenant_id = $n".
-- No app.tenant_id setting → NULL → no rows, never an error and never a leak.

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'workspaces', 'projects', 'tasks', 'audit_logs', 'api_keys', 'idempotency_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    END LOOP;
END
$$;

-- The one cross-tenant exception on a tenant table: the periodic purge may see and
-- delete *expired* idempotency keys of every tenant, and only when it says so.
CREATE POLICY purge_expired_read ON idempotency_keys FOR SELECT
    USING (current_setting('app.maintenance', true) = 'purge_expired' AND expires_at < now());
CREATE POLICY purge_expired_delete ON idempotency_keys FOR DELETE
    USING (current_setting('app.maintenance', true) = 'purge_expired' AND expires_at < now());

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO coditect_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM coditect_app;
