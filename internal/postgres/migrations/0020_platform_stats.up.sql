-- Platform-wide business numbers for the Prometheus gauges (issue 8): sign-ups, API
-- calls and active tenants across all tenants. The application role sees only the
-- current tenant's rows in tenant tables (row-level security), so cross-tenant
-- aggregates are kept here, in global tables that are not tenant data, written by
-- transactions that already run: a sign-up adds to signups, each usage flush adds its
-- calls and marks its organization active. No tenant's data can be read back from
-- them: platform_stats_hourly holds only sums, and tenant_activity only when an
-- organization last made an API call.

-- Sums per UTC hour, split over 16 shards (the tenant's id picks the shard) so the
-- flushes of many tenants do not queue on one hot row.
CREATE TABLE platform_stats_hourly (
    hour      timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    shard     smallint    NOT NULL CHECK (shard >= 0 AND shard < 16),
    signups   bigint      NOT NULL DEFAULT 0 CHECK (signups >= 0),
    api_calls bigint      NOT NULL DEFAULT 0 CHECK (api_calls >= 0),
    PRIMARY KEY (hour, shard)
);

-- When each organization last made an API call (to the usage flush's precision, 30 s).
-- Keyed by organization_id, not tenant_id: like usage_pending it is not tenant data.
-- Rows older than two days are purged by the hourly purge job, so an erased
-- organization's row goes within two days and the table holds only recent activity.
CREATE TABLE tenant_activity (
    organization_id uuid        NOT NULL PRIMARY KEY,
    last_active_at  timestamptz NOT NULL
);
CREATE INDEX tenant_activity_last_active ON tenant_activity (last_active_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON platform_stats_hourly, tenant_activity TO coditect_app;
