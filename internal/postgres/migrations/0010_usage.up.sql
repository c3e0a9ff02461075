-- Usage metering (issue 7, item 7; the roll-up is issue 5's scheduled job): API calls
-- per tenant, counted in memory on the hot path (internal/usage.Meter), added to the
-- current UTC hour by each flush, and rolled up into days by an hourly system job.

-- One row per tenant and UTC hour with calls not yet rolled up into usage_daily. Each
-- flush adds to the row of its hour (INSERT … ON CONFLICT … DO UPDATE SET api_calls =
-- api_calls + excluded.api_calls); the roll-up moves every hour before the current one
-- into usage_daily and deletes it, in one statement.
CREATE TABLE usage_hourly (
    tenant_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    hour      timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    api_calls bigint      NOT NULL CHECK (api_calls >= 0),
    PRIMARY KEY (tenant_id, hour)
);

-- One row per tenant and UTC day: the rolled-up calls of that day's hours.
CREATE TABLE usage_daily (
    tenant_id uuid   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day       date   NOT NULL,
    api_calls bigint NOT NULL CHECK (api_calls >= 0),
    PRIMARY KEY (tenant_id, day)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['usage_hourly', 'usage_daily']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    END LOOP;
END
$$;

-- The organizations with hourly rows, so the roll-up finds them without a cross-tenant
-- scan of usage_hourly: a flush upserts its tenant's row here (since = the oldest hour
-- it may have left), the roll-up pages through the rows with since before the current
-- hour, and deletes a row once its tenant has no hourly rows left. It is a work list,
-- not tenant data: the column is organization_id (as in tenant_deletions), it has no
-- row-level security, and on Citus it is distributed by its own key. A row of an
-- erased organization is deleted by the next roll-up (which finds nothing to move).
--
-- Locking: a flush upserts this row before it writes usage_hourly, and the roll-up
-- locks it (FOR UPDATE) before it moves hours, so the two take turns per tenant and
-- the roll-up never deletes the row of a tenant whose new hourly row it cannot see.
CREATE TABLE usage_pending (
    organization_id uuid        NOT NULL PRIMARY KEY,
    since           timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON usage_hourly, usage_daily, usage_pending TO coditect_app;
