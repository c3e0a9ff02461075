-- Data exports (issue 5): a tenant's request for an archive of its data, and the
-- record of the archive file that outlives it until the file is deleted.

-- One row per requested export. status is the API's: pending → running → completed
-- or failed. A completed export's archive is downloadable until expires_at; purged_at
-- is set once the periodic purge has deleted the file. counts holds the row count of
-- each file in the archive; error is a message safe to show to the tenant's admins.
CREATE TABLE exports (
    tenant_id    uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    requested_by uuid,       -- the requesting account, API key or OAuth client (the audit actor id)
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    completed_at timestamptz,
    expires_at   timestamptz,
    purged_at    timestamptz,
    storage_key  text,
    size_bytes   bigint      NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    counts       jsonb       NOT NULL DEFAULT '{}',
    error        text        NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX exports_page ON exports (tenant_id, created_at DESC, id DESC);
-- At most one unfinished export per tenant: a full dump is expensive, and asking again
-- while one is under way is a conflict (export.in_progress), not a second dump.
CREATE UNIQUE INDEX exports_one_unfinished ON exports (tenant_id) WHERE status IN ('pending', 'running');

ALTER TABLE exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE exports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON exports
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- Every archive file written to storage, until the purge deletes it. A row is written
-- before the file (so a file whose job crashed, failed or was abandoned is still found
-- and deleted) and its expires_at moved when the export completes. It is not tenant
-- data and deliberately has no tenant_id column: it must outlive an erased tenant
-- (the eraser expires its rows so the purge deletes the files), like tenant_deletions.
-- Distributed by organization_id on Citus; the purge's scan by expires_at fans out
-- once per period, like the session purge.
CREATE TABLE export_files (
    organization_id uuid        NOT NULL,
    export_id       uuid        NOT NULL,
    storage_key     text        NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, export_id)
);
CREATE INDEX export_files_expires_at ON export_files (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON exports, export_files TO coditect_app;
