-- Deleting an organization (issue 4): the record that outlives the tenant, the one
-- function that may delete append-only audit rows, and an index that lets the eraser
-- find a tenant's OAuth requests.

-- One row per deleted organization, kept after every row of the tenant is gone: who
-- asked and when, when the erasure started and finished, and how many rows it removed
-- per table. The column is organization_id, not tenant_id, on purpose: this is not
-- tenant data, the eraser must not erase it, and it has no row-level security. It is
-- distributed by its own key (organization_id) on Citus. slug and domains are the
-- global lookup values to free once the tenant's rows are gone (lookups are keyed by
-- their value, so they are recorded here at deletion time).
CREATE TABLE tenant_deletions (
    organization_id uuid        NOT NULL PRIMARY KEY,
    slug            text        NOT NULL,
    name            text        NOT NULL,
    domains         text[]      NOT NULL DEFAULT '{}',
    requested_by    uuid,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz,
    rows_deleted    jsonb       NOT NULL DEFAULT '{}'
);

REVOKE ALL ON tenant_deletions FROM coditect_app;
GRANT SELECT, INSERT, UPDATE ON tenant_deletions TO coditect_app;

-- oauth_requests is distributed by signature; the eraser finds a tenant's rows by
-- tenant_id (a fan-out on Citus, once per deleted organization), so it needs an index.
CREATE INDEX oauth_requests_tenant ON oauth_requests (tenant_id) WHERE tenant_id IS NOT NULL;

-- audit_logs is append-only for the application role (no UPDATE, no DELETE), yet a
-- deleted organization's audit rows must go too. This function, owned by the
-- migration owner, deletes up to p_batch audit rows of one tenant, and only:
--   * of the tenant the caller's transaction is scoped to (SET LOCAL app.tenant_id);
--   * of an organization marked deleted, with an unfinished tenant_deletions record.
-- audit_logs has FORCE ROW LEVEL SECURITY, so the tenant_isolation policy applies to
-- the owner too: inside the function the caller's app.tenant_id still limits the rows
-- (the explicit check below only makes the refusal loud). Returns the rows deleted.
CREATE FUNCTION erase_tenant_audit_logs(p_tenant uuid, p_batch integer) RETURNS bigint
    LANGUAGE plpgsql
    VOLATILE
    SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF p_tenant IS NULL OR p_tenant IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN
        RAISE EXCEPTION 'erase_tenant_audit_logs: % is not the tenant of this transaction', p_tenant
            USING ERRCODE = '42501';
    END IF;
    IF p_batch IS NULL OR p_batch < 1 OR p_batch > 10000 THEN
        RAISE EXCEPTION 'erase_tenant_audit_logs: batch must be 1 to 10000' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.organizations o WHERE o.id = p_tenant AND o.deleted_at IS NOT NULL)
       OR NOT EXISTS (SELECT 1 FROM public.tenant_deletions d WHERE d.organization_id = p_tenant AND d.completed_at IS NULL) THEN
        RAISE EXCEPTION 'erase_tenant_audit_logs: organization % is not being deleted', p_tenant
            USING ERRCODE = '42501';
    END IF;
    DELETE FROM public.audit_logs a
    WHERE a.tenant_id = p_tenant
      AND a.id IN (SELECT l.id FROM public.audit_logs l WHERE l.tenant_id = p_tenant LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION erase_tenant_audit_logs(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_tenant_audit_logs(uuid, integer) TO coditect_app;
