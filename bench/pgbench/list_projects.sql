-- GET /v1/orgs/{org}/projects, first page (limit 50 → LIMIT 51), as the application runs
-- it: BEGIN READ ONLY; SET LOCAL app.tenant_id; the ProjectList query; COMMIT, in one
-- round trip (one compound simple-protocol command; `\;` keeps it one command).
-- Tenants are the ones the load generator uses: KEYS of them spread evenly over
-- 1..ntenants (bench/internal/benchdata). Run with -M simple.
\set i random(0, :keys - 1)
\set n 1 + (:i * :ntenants) / :keys
\set t 100000000000 + :n
BEGIN READ ONLY \;
SET LOCAL app.tenant_id = 'b0000001-0000-4000-8000-:t' \;
SELECT tenant_id, id, workspace_id, name, description, created_at, updated_at
FROM projects
WHERE tenant_id = 'b0000001-0000-4000-8000-:t'
  AND (NULL::uuid IS NULL OR workspace_id = NULL::uuid)
  AND (created_at, id) > ('0001-01-01'::timestamptz, '00000000-0000-0000-0000-000000000000'::uuid)
ORDER BY created_at, id
LIMIT 51 \;
COMMIT;
