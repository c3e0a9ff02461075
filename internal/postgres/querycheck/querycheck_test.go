package querycheck_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/postgres/querycheck"
)

// tenantTables mirrors the shape of the real manifest (organizations is its own
// tenant, keyed by id) without depending on it, so these tests pin the checker's
// rules and not the schema.
var tenantTables = map[string]string{
	"organizations":    "id",
	"memberships":      "tenant_id",
	"workspaces":       "tenant_id",
	"projects":         "tenant_id",
	"tasks":            "tenant_id",
	"audit_logs":       "tenant_id",
	"api_keys":         "tenant_id",
	"idempotency_keys": "tenant_id",
}

func TestCheckGood(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, sql string }{
		{"single table", `SELECT * FROM tasks WHERE tenant_id = $1 AND id = $2`},
		{"qualified by alias", `SELECT t.id FROM tasks t WHERE t.tenant_id = $1`},
		{"param first and cast", `SELECT id FROM projects WHERE $1::uuid = tenant_id`},
		{"schema qualified", `SELECT id FROM public.projects WHERE public.projects.tenant_id = $1`},
		{"filter nested in AND groups", `SELECT id FROM tasks WHERE (status = 'open' AND (tenant_id = $1 AND id > $2))`},
		{"row equality", `SELECT id FROM tasks WHERE (tenant_id, id) = ($1, $2)`},
		{"join via ON", `SELECT t.id FROM tasks t JOIN projects p ON p.tenant_id = t.tenant_id AND p.id = t.project_id WHERE t.tenant_id = $1`},
		{"join via WHERE", `SELECT t.id FROM tasks t, projects p WHERE t.tenant_id = $1 AND p.tenant_id = t.tenant_id AND p.id = t.project_id`},
		{"join bound to the same param", `SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.tenant_id = $1 AND p.tenant_id = $1`},
		{"join USING tenant_id", `SELECT t.id FROM tasks t JOIN projects p USING (tenant_id) WHERE t.tenant_id = $1 AND p.id = t.project_id`},
		{"unqualified column merged by USING", `SELECT t.id FROM tasks t JOIN projects p USING (tenant_id) WHERE tenant_id = $1 AND p.id = t.project_id`},
		{"OPERATOR(pg_catalog.=)", `SELECT id FROM tasks WHERE tenant_id OPERATOR(pg_catalog.=) $1`},
		{"FOR UPDATE OF", `SELECT id FROM tasks t WHERE t.tenant_id = $1 AND t.id = $2 FOR UPDATE OF t`},
		{"function in FROM", `SELECT t.id FROM tasks t, unnest($2::uuid[]) AS x(id) WHERE t.tenant_id = $1 AND t.id = x.id`},
		{"transitive three-way join", `SELECT t.id FROM tasks t
			JOIN projects p ON p.tenant_id = t.tenant_id AND p.id = t.project_id
			JOIN workspaces w ON w.tenant_id = p.tenant_id AND w.id = p.workspace_id
			WHERE t.tenant_id = $1`},
		{"transitive, param bound to the last table", `SELECT t.id FROM tasks t, projects p, workspaces w
			WHERE t.tenant_id = p.tenant_id AND p.tenant_id = w.tenant_id AND w.tenant_id = $1`},
		{"left join scoped in ON", `SELECT p.id, t.id FROM projects p
			LEFT JOIN tasks t ON t.tenant_id = p.tenant_id AND t.project_id = p.id
			WHERE p.tenant_id = $1`},
		{"join with a non-tenant table", `SELECT t.id, a.email FROM tasks t JOIN accounts a ON a.id = t.assignee_id WHERE t.tenant_id = $1`},
		{"correlated EXISTS", `SELECT id FROM projects p WHERE p.tenant_id = $1
			AND EXISTS (SELECT 1 FROM tasks t WHERE t.tenant_id = p.tenant_id AND t.project_id = p.id)`},
		{"correlated, unqualified inner column", `SELECT id FROM projects p WHERE p.tenant_id = $1
			AND NOT EXISTS (SELECT 1 FROM tasks WHERE tenant_id = p.tenant_id AND project_id = p.id)`},
		{"scalar subquery in targets with own filter", `SELECT p.id, (SELECT count(*) FROM tasks t WHERE t.tenant_id = $1 AND t.project_id = p.id)
			FROM projects p WHERE p.tenant_id = $1`},
		{"IN subquery with own filter", `DELETE FROM tasks WHERE tenant_id = $1
			AND project_id IN (SELECT id FROM projects WHERE tenant_id = $1 AND name = $2)`},
		{"FROM subquery scoped itself", `SELECT s.id FROM (SELECT id FROM tasks WHERE tenant_id = $1) s`},
		{"FROM subquery output scopes a join", `SELECT t.id FROM (SELECT tenant_id, id FROM projects WHERE tenant_id = $1) p
			JOIN tasks t ON t.tenant_id = p.tenant_id AND t.project_id = p.id`},
		{"lateral subquery correlated", `SELECT p.id, x.n FROM projects p,
			LATERAL (SELECT count(*) AS n FROM tasks t WHERE t.tenant_id = p.tenant_id AND t.project_id = p.id) x
			WHERE p.tenant_id = $1`},
		{"CTE", `WITH p AS (SELECT id FROM projects WHERE tenant_id = $1)
			SELECT t.id FROM tasks t JOIN p ON p.id = t.project_id WHERE t.tenant_id = $1`},
		{"CTE output scopes the body", `WITH p AS (SELECT tenant_id, id FROM projects WHERE tenant_id = $1)
			SELECT t.id FROM p JOIN tasks t ON t.tenant_id = p.tenant_id AND t.project_id = p.id`},
		{"CTE named like nothing in the schema", `WITH recent AS (SELECT id FROM tasks WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 10)
			SELECT id FROM recent`},
		{"data-modifying CTE feeding INSERT … SELECT", `WITH d AS (DELETE FROM tasks WHERE tenant_id = $1 AND project_id = $2 RETURNING tenant_id, id)
			INSERT INTO audit_logs (tenant_id, id, action) SELECT d.tenant_id, d.id, 'task.deleted' FROM d`},
		{"UNION with every arm scoped", `SELECT id FROM tasks WHERE tenant_id = $1
			UNION ALL SELECT id FROM projects WHERE tenant_id = $1`},
		{"INSERT VALUES", `INSERT INTO tasks (tenant_id, id, title) VALUES ($1, $2, $3)`},
		{"INSERT VALUES, several rows, cast", `INSERT INTO tasks (tenant_id, id, title) VALUES ($1::uuid, $2, $3), ($1::uuid, $4, $5)`},
		{"INSERT … SELECT with param", `INSERT INTO audit_logs (tenant_id, id, action)
			SELECT $1, gen_random_uuid(), 'task.touched' FROM tasks WHERE tenant_id = $1 AND id = $2`},
		{"INSERT … SELECT with scoped column", `INSERT INTO audit_logs (tenant_id, id, action)
			SELECT t.tenant_id, t.id, 'task.copied' FROM tasks t WHERE t.tenant_id = $1`},
		{"INSERT RETURNING", `INSERT INTO projects (tenant_id, id, name) VALUES ($1, $2, $3) RETURNING tenant_id, id`},
		{"upsert keyed by tenant", `INSERT INTO idempotency_keys AS i (tenant_id, principal, key, request_hash, expires_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, principal, key) DO UPDATE
			SET request_hash = EXCLUDED.request_hash, expires_at = EXCLUDED.expires_at
			WHERE i.expires_at <= now()`},
		{"upsert DO NOTHING on any key", `INSERT INTO workspaces (tenant_id, id, name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`},
		{"UPDATE", `UPDATE tasks SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING id`},
		{"UPDATE … FROM with equated tenants", `UPDATE tasks t SET status = 'archived' FROM projects p
			WHERE t.tenant_id = $1 AND p.tenant_id = t.tenant_id AND p.id = t.project_id AND p.name = $2`},
		{"UPDATE with correlated subquery in SET", `UPDATE projects p SET name = (SELECT w.name FROM workspaces w WHERE w.tenant_id = p.tenant_id AND w.id = p.workspace_id)
			WHERE p.tenant_id = $1 AND p.id = $2`},
		{"DELETE", `DELETE FROM tasks WHERE tenant_id = $1 AND id = $2`},
		{"DELETE … USING", `DELETE FROM tasks t USING projects p WHERE t.tenant_id = $1 AND p.tenant_id = $1 AND p.id = t.project_id`},
		{"organizations by id", `SELECT id, slug, name FROM organizations WHERE id = $1 AND deleted_at IS NULL`},
		{"organizations insert", `INSERT INTO organizations (id, slug, name) VALUES ($1, $2, $3) RETURNING id`},
		{"organizations joined to memberships", `SELECT o.name, m.role FROM organizations o
			JOIN memberships m ON m.tenant_id = o.id WHERE o.id = $1 AND m.account_id = $2`},
		{"no tenant table", `SELECT a.id FROM account_emails e JOIN accounts a ON a.id = e.account_id WHERE e.email = $1`},
		{"no tenant table, unbounded delete", `DELETE FROM sessions WHERE expires_at < now()`},
		{"utility SET", `SET LOCAL app.tenant_id = '00000000-0000-0000-0000-000000000001'`},
		{"utility BEGIN", `BEGIN`},
		{"set_config", `SELECT set_config('app.tenant_id', $1, true)`},
		{"several statements", `BEGIN; SELECT * FROM tasks WHERE tenant_id = $1; COMMIT`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			problems, err := querycheck.Check(tc.sql, tenantTables)
			require.NoError(t, err)
			require.Empty(t, problems, "statement:\n%s", tc.sql)
		})
	}
}

func TestCheckBad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sql  string
		// want are substrings of "table: message", each of which some problem must contain.
		want []string
	}{
		{"missing filter", `SELECT * FROM tasks WHERE id = $1`,
			[]string{"tasks: tasks is not scoped to one tenant"}},
		{"no WHERE at all", `SELECT count(*) FROM projects`,
			[]string{"projects: projects is not scoped"}},
		{"filter only inside OR", `SELECT * FROM tasks WHERE tenant_id = $1 OR id = $2`,
			[]string{"tasks is not scoped"}},
		{"filter inside an OR group of an AND", `SELECT * FROM tasks WHERE id = $2 AND (tenant_id = $1 OR status = 'public')`,
			[]string{"tasks is not scoped"}},
		{"filter under NOT", `SELECT * FROM tasks WHERE NOT (tenant_id = $1)`,
			[]string{"tasks is not scoped"}},
		{"literal tenant", `SELECT * FROM tasks WHERE tenant_id = '6f1c1d7e-0000-4000-8000-000000000000'`,
			[]string{"tasks is not scoped"}},
		{"IN list of a param", `SELECT * FROM tasks WHERE tenant_id IN ($1)`,
			[]string{"tasks is not scoped"}},
		{"= ANY of a param", `SELECT * FROM tasks WHERE tenant_id = ANY($1)`,
			[]string{"tasks is not scoped"}},
		{"inequality", `SELECT * FROM tasks WHERE tenant_id <> $1`,
			[]string{"tasks is not scoped"}},
		{"cast on the column side", `SELECT * FROM tasks WHERE tenant_id::text = $1`,
			[]string{"tasks is not scoped"}},
		{"column equated with another column of itself", `SELECT * FROM tasks WHERE tenant_id = project_id AND project_id = $1`,
			[]string{"tasks is not scoped"}},
		{"join without tenant equality", `SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.tenant_id = $1`,
			[]string{"projects: projects (as p) is not scoped"}},
		{"join with different params", `SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.tenant_id = $1 AND p.tenant_id = $2`,
			[]string{"join between tasks (as t) and projects (as p) does not equate tenant columns"}},
		{"comma join without any tenant filter on one side", `SELECT * FROM tasks t, workspaces w WHERE t.tenant_id = $1`,
			[]string{"workspaces (as w) is not scoped"}},
		{"left join scoped only in ON of the preserved side", `SELECT p.id FROM projects p
			LEFT JOIN tasks t ON p.tenant_id = $1 AND t.tenant_id = p.tenant_id`,
			[]string{"projects (as p) is not scoped"}},
		{"full join scoped only in ON", `SELECT p.id FROM projects p
			FULL JOIN tasks t ON t.tenant_id = $1 AND p.tenant_id = $1`,
			[]string{"projects (as p) is not scoped", "tasks (as t) is not scoped"}},
		{"operator from another schema", `SELECT * FROM tasks WHERE tenant_id OPERATOR(myschema.=) $1`,
			[]string{"tasks is not scoped"}},
		{"FULL JOIN USING does not bind either side", `SELECT 1 FROM tasks t FULL JOIN projects p USING (tenant_id) WHERE tenant_id = $1`,
			[]string{"tasks (as t) is not scoped", "projects (as p) is not scoped"}},
		{"left join without tenant equality", `SELECT t.id FROM tasks t LEFT JOIN projects p ON p.id = t.project_id WHERE t.tenant_id = $1`,
			[]string{"projects (as p) is not scoped"}},
		{"unqualified tenant column with another table in scope", `SELECT t.id FROM tasks t JOIN accounts a ON a.id = t.assignee_id WHERE tenant_id = $1`,
			[]string{"tasks (as t) is not scoped"}},
		{"subquery missing filter", `SELECT id FROM projects p WHERE p.tenant_id = $1
			AND EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id)`,
			[]string{"tasks (as t) is not scoped"}},
		{"subquery correlated with an unscoped outer", `SELECT id FROM projects p WHERE p.id = $2
			AND EXISTS (SELECT 1 FROM tasks t WHERE t.tenant_id = p.tenant_id)`,
			[]string{"projects (as p) is not scoped", "tasks (as t) is not scoped"}},
		{"subquery bound to a different param", `SELECT id FROM tasks WHERE tenant_id = $1
			AND project_id IN (SELECT id FROM projects WHERE tenant_id = $2)`,
			[]string{"scoped by different parameters"}},
		{"FROM subquery scoped only outside", `SELECT s.id FROM (SELECT * FROM tasks) s WHERE s.tenant_id = $1`,
			[]string{"tasks is not scoped"}},
		{"lateral subquery missing filter", `SELECT t.id FROM tasks t
			JOIN LATERAL (SELECT name FROM projects p WHERE p.id = t.project_id) x ON true WHERE t.tenant_id = $1`,
			[]string{"projects (as p) is not scoped"}},
		{"recursive CTE arm missing filter", `WITH RECURSIVE r AS (
				SELECT id FROM tasks WHERE tenant_id = $1
				UNION ALL SELECT t.id FROM tasks t JOIN r ON r.id = t.project_id)
			SELECT id FROM r`,
			[]string{"tasks (as t) is not scoped"}},
		{"CTE missing filter", `WITH p AS (SELECT id FROM projects WHERE name = $2)
			SELECT t.id FROM tasks t JOIN p ON p.id = t.project_id WHERE t.tenant_id = $1`,
			[]string{"projects is not scoped"}},
		{"CTE output that is not scoped", `WITH p AS (SELECT tenant_id, id FROM projects WHERE tenant_id = $1 OR id = $2)
			SELECT t.id FROM p JOIN tasks t ON t.tenant_id = p.tenant_id`,
			[]string{"projects is not scoped", "tasks (as t) is not scoped"}},
		{"UNION arm missing filter", `SELECT id FROM tasks WHERE tenant_id = $1 UNION SELECT id FROM projects`,
			[]string{"projects is not scoped"}},
		{"UNION arms with different params", `SELECT id FROM tasks WHERE tenant_id = $1 UNION SELECT id FROM projects WHERE tenant_id = $2`,
			[]string{"scoped by different parameters"}},
		{"INSERT with literal tenant", `INSERT INTO tasks (tenant_id, id, title) VALUES ('6f1c1d7e-0000-4000-8000-000000000000', $1, $2)`,
			[]string{"tasks: INSERT into tasks: VALUES row 1 sets tenant_id to something other than a bound parameter"}},
		{"INSERT with DEFAULT tenant", `INSERT INTO tasks (tenant_id, id) VALUES (DEFAULT, $1)`,
			[]string{"VALUES row 1 sets tenant_id"}},
		{"INSERT without tenant column", `INSERT INTO tasks (id, title) VALUES ($1, $2)`,
			[]string{"INSERT into tasks does not set its tenant column tenant_id"}},
		{"INSERT without column list", `INSERT INTO tasks VALUES ($1, $2, $3)`,
			[]string{"does not set its tenant column"}},
		{"INSERT rows for different tenants", `INSERT INTO tasks (tenant_id, id) VALUES ($1, $2), ($3, $4)`,
			[]string{"VALUES rows set tenant_id from different parameters"}},
		{"INSERT … SELECT from an unscoped column", `INSERT INTO audit_logs (tenant_id, id, action)
			SELECT t.tenant_id, t.id, 'x' FROM tasks t WHERE t.id = $1`,
			[]string{"tasks (as t) is not scoped", "INSERT … SELECT into audit_logs takes tenant_id from neither"}},
		{"INSERT … SELECT of a different tenant", `INSERT INTO audit_logs (tenant_id, id, action)
			SELECT $2, t.id, 'x' FROM tasks t WHERE t.tenant_id = $1`,
			[]string{"scoped by different parameters"}},
		{"upsert whose conflict target lacks the tenant", `INSERT INTO workspaces (tenant_id, id, name) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`,
			[]string{"must list tenant_id in its conflict target"}},
		{"upsert moving the row to another tenant", `INSERT INTO workspaces (tenant_id, id, name) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id`,
			[]string{"ON CONFLICT … DO UPDATE sets the tenant column"}},
		{"UPDATE setting tenant column", `UPDATE tasks SET tenant_id = $3 WHERE tenant_id = $1 AND id = $2`,
			[]string{"UPDATE sets the tenant column tenant_id of tasks"}},
		{"UPDATE without filter", `UPDATE tasks SET status = 'done' WHERE id = $1`,
			[]string{"tasks is not scoped"}},
		{"UPDATE … FROM an unscoped table", `UPDATE tasks t SET status = 'archived' FROM projects p WHERE t.tenant_id = $1 AND p.id = t.project_id`,
			[]string{"projects (as p) is not scoped"}},
		{"DELETE without filter", `DELETE FROM tasks WHERE project_id = $1`,
			[]string{"tasks is not scoped"}},
		{"DELETE through an unscoped IN subquery", `DELETE FROM idempotency_keys WHERE (tenant_id, principal, key) IN (
			SELECT i.tenant_id, i.principal, i.key FROM idempotency_keys i WHERE i.expires_at < now() LIMIT $1)`,
			[]string{"idempotency_keys is not scoped", "idempotency_keys (as i) is not scoped"}},
		{"organizations without id filter", `SELECT id FROM organizations WHERE slug = $1`,
			[]string{"organizations is not scoped", "organizations.id = $n"}},
		{"organizations filtered on the wrong column", `SELECT id FROM organizations WHERE tenant_id = $1`,
			[]string{"organizations is not scoped"}},
		{"EXPLAIN of an unscoped query", `EXPLAIN SELECT * FROM tasks`,
			[]string{"tasks is not scoped"}},
		{"MERGE into a tenant table", `MERGE INTO tasks t USING projects p ON t.project_id = p.id WHEN MATCHED THEN DELETE`,
			[]string{"tasks is named where tenant scoping cannot be proven"}},
		{"TRUNCATE a tenant table", `TRUNCATE tasks`,
			[]string{"tasks is named where tenant scoping cannot be proven"}},
		{"bad statement among good ones", `SELECT 1 FROM tasks WHERE tenant_id = $1; SELECT 1 FROM projects`,
			[]string{"projects is not scoped"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			problems, err := querycheck.Check(tc.sql, tenantTables)
			require.NoError(t, err)
			require.NotEmpty(t, problems, "statement:\n%s", tc.sql)
			var got []string
			for _, p := range problems {
				require.NotEmpty(t, p.Table, "every problem names its table")
				got = append(got, p.String())
			}
			for _, want := range tc.want {
				require.True(t, containsAny(got, want), "want a problem containing %q, got:\n%s", want, strings.Join(got, "\n"))
			}
		})
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestCheckReportsEachReference(t *testing.T) {
	t.Parallel()
	// Two unscoped references are two problems: fixing one must not hide the other.
	problems, err := querycheck.Check(`SELECT 1 FROM tasks a JOIN tasks b ON b.id = a.id`, tenantTables)
	require.NoError(t, err)
	require.Len(t, problems, 2)
	require.Equal(t, "tasks", problems[0].Table)
	require.Contains(t, problems[0].Message, "tasks (as a)")
	require.Contains(t, problems[1].Message, "tasks (as b)")
}

func TestCheckParseError(t *testing.T) {
	t.Parallel()
	_, err := querycheck.Check(`SELEC * FROM tasks`, tenantTables)
	require.Error(t, err)
}

func TestTables(t *testing.T) {
	t.Parallel()
	tables, err := querycheck.Tables(`WITH p AS (SELECT id FROM projects WHERE tenant_id = $1)
		INSERT INTO audit_logs (tenant_id, id)
		SELECT t.tenant_id, t.id FROM tasks t JOIN p ON p.id = t.project_id
		WHERE t.tenant_id = $1 AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.assignee_id)`)
	require.NoError(t, err)
	require.Equal(t, []string{"accounts", "audit_logs", "projects", "tasks"}, tables, "CTE names are not tables")
}
