-- list_projects.sql over the extended protocol with prepared statements, the four
-- statements pipelined into one round trip, as pgx sends the application's batch. SET
-- takes no bind parameters, so the tenant is set with set_config(…, true), which is
-- what SET LOCAL does on plain PostgreSQL. Run with -M prepared.
\set i random(0, :keys - 1)
\set n 1 + (:i * :ntenants) / :keys
\set t 100000000000 + :n
\startpipeline
BEGIN READ ONLY;
SELECT set_config('app.tenant_id', 'b0000001-0000-4000-8000-' || :t::text, true);
SELECT tenant_id, id, workspace_id, name, description, created_at, updated_at
FROM projects
WHERE tenant_id = ('b0000001-0000-4000-8000-' || :t::text)::uuid
  AND (NULL::uuid IS NULL OR workspace_id = NULL::uuid)
  AND (created_at, id) > ('0001-01-01'::timestamptz, '00000000-0000-0000-0000-000000000000'::uuid)
ORDER BY created_at, id
LIMIT 51;
COMMIT;
\endpipeline
