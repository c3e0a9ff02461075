-- GET /v1/orgs/{org}/tasks/{id} as the application runs it: BEGIN READ ONLY; SET LOCAL
-- app.tenant_id; the TaskGet query; COMMIT, in one round trip (one compound
-- simple-protocol command). A random task of a random sampled tenant. Run with -M simple.
\set i random(0, :keys - 1)
\set n 1 + (:i * :ntenants) / :keys
\set t 100000000000 + :n
\set p 1000 + random(1, :projects)
\set k 1000 + random(1, :tasks)
BEGIN READ ONLY \;
SET LOCAL app.tenant_id = 'b0000001-0000-4000-8000-:t' \;
SELECT tenant_id, id, project_id, title, description, status, assignee_id, due_at, created_at, updated_at
FROM tasks
WHERE tenant_id = 'b0000001-0000-4000-8000-:t' AND id = 'b0000005-:p-:k-8000-:t' \;
COMMIT;
