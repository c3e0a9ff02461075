DROP INDEX IF EXISTS river_job_tenant_backlog;
