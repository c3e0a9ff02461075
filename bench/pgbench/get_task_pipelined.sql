-- get_task.sql over the extended protocol with prepared statements, pipelined into
-- one round trip like the application's batch; the tenant is set with
-- set_config(…, true) (= SET LOCAL; SET takes no bind parameters). Run with -M prepared.
\set i random(0, :keys - 1)
\set n 1 + (:i * :ntenants) / :keys
\set t 100000000000 + :n
\set p 1000 + random(1, :projects)
\set k 1000 + random(1, :tasks)
\startpipeline
BEGIN READ ONLY;
SELECT set_config('app.tenant_id', 'b0000001-0000-4000-8000-' || :t::text, true);
SELECT tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at
FROM tasks
WHERE tenant_id = ('b0000001-0000-4000-8000-' || :t::text)::uuid
  AND id = ('b0000005-' || :p::text || '-' || :k::text || '-8000-' || :t::text)::uuid;
COMMIT;
\endpipeline
