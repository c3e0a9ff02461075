-- Drops schema v1. The coditect_app role is cluster-wide and may serve other
-- databases, so it stays.
DROP TABLE IF EXISTS idempotency_keys, api_keys, audit_logs, tasks, projects, workspaces, memberships,
    api_key_prefixes, tenant_domains, tenant_slugs, organizations, sessions, account_memberships,
    account_emails, accounts;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM coditect_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM coditect_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM coditect_app;
REVOKE USAGE ON SCHEMA public FROM coditect_app;
