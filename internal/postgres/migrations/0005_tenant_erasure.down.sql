DROP FUNCTION IF EXISTS erase_tenant_audit_logs(uuid, integer);
DROP INDEX IF EXISTS oauth_requests_tenant;
DROP TABLE IF EXISTS tenant_deletions;
