-- Fair enqueue (internal/worker/fairness.go): the middleware that inserts jobs counts
-- the tenant's jobs already waiting, to lower the priority of a tenant with a large
-- backlog. This partial expression index holds only waiting jobs, keyed by tenant, so
-- that count reads the tenant's own waiting rows and stops at the query's LIMIT:
-- cheap and bounded however many jobs other tenants (or finished jobs) there are.
-- River's tables exist by now: Migrator.Up runs River's migrations right after 0001.
CREATE INDEX IF NOT EXISTS river_job_tenant_backlog ON river_job ((args ->> 'tenant_id'))
    WHERE state IN ('available', 'scheduled', 'retryable');
