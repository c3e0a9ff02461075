package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// workFixture is an organization (acme) with one person of each role, and another
// organization (globex) with its owner.
type workFixture struct {
	*stack
	owner, admin, member, viewer person
	other                        person // globex's owner, a member of nothing else
}

func workSetup(t *testing.T) workFixture {
	t.Helper()
	s := setup(t)
	f := workFixture{stack: s}
	f.owner = s.signup(t, "ann@example.test", "Acme", "acme")
	f.other = s.signup(t, "bob@example.test", "Globex", "globex")
	f.admin = s.join(t, f.owner, "adm@example.test", coditect.RoleAdmin)
	f.member = s.join(t, f.owner, "mem@example.test", coditect.RoleMember)
	f.viewer = s.join(t, f.owner, "vic@example.test", coditect.RoleViewer)
	return f
}

// create POSTs body to the organization's path as p and checks the 201: Location
// names the new resource, ETag is set, the body matches schema.
func (s *stack) create(t *testing.T, p person, org, path string, body any, schema string, opts ...opt) (map[string]any, answer) {
	t.Helper()
	res := s.do(t, "POST", "/v1/orgs/"+org+path, body, append([]opt{bearer(p.access)}, opts...)...)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	s.requireSchema(t, schema, res.body)
	out := res.json(t)
	require.NotEmpty(t, res.header.Get("ETag"))
	require.True(t, strings.HasPrefix(res.header.Get("Location"), "/v1/orgs/"+org+"/"), res.header.Get("Location"))
	require.True(t, strings.HasSuffix(res.header.Get("Location"), "/"+out["id"].(string)), res.header.Get("Location"))
	return out, res
}

// get reads one resource as p and checks it is 200 with an ETag.
func (s *stack) get(t *testing.T, p person, path, schema string) (map[string]any, string) {
	t.Helper()
	res := s.do(t, "GET", path, nil, bearer(p.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, schema, res.body)
	require.NotEmpty(t, res.header.Get("ETag"))
	return res.json(t), res.header.Get("ETag")
}

// auditLog reads the whole audit log of org (newest first) as p, with query.
func (s *stack) auditLog(t *testing.T, p person, org, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50)
		q := "?limit=200" + query + cursor
		res := s.do(t, "GET", "/v1/orgs/"+org+"/audit-logs"+q, nil, bearer(p.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		s.requireSchema(t, "AuditLogPage", res.body)
		var pg page[map[string]any]
		require.NoError(t, json.Unmarshal(res.body, &pg))
		out = append(out, pg.Data...)
		if pg.NextCursor == nil {
			return out
		}
		cursor = "&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
}

// actions lists the actions of audit rows about target, oldest first.
func actions(rows []map[string]any, target string) []string {
	var out []string
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i]["target_id"] == target {
			out = append(out, rows[i]["action"].(string))
		}
	}
	return out
}

func TestWorkspaces(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, ann := f.stack, f.owner

	ws, res := s.create(t, ann, "acme", "/workspaces", map[string]any{"name": "  Engineering ", "description": "Builds things"}, "Workspace")
	id := ws["id"].(string)
	require.Equal(t, "Engineering", ws["name"], "trimmed")
	require.Equal(t, "/v1/orgs/acme/workspaces/"+id, res.header.Get("Location"))

	got, etag := s.get(t, ann, "/v1/orgs/acme/workspaces/"+id, "Workspace")
	require.Equal(t, ws, got)
	require.Equal(t, res.header.Get("ETag"), etag)
	_, byID := s.get(t, ann, "/v1/orgs/"+ann.orgID+"/workspaces/"+id, "Workspace")
	require.Equal(t, etag, byID)

	list := s.do(t, "GET", "/v1/orgs/acme/workspaces", nil, bearer(ann.access))
	require.Equal(t, http.StatusOK, list.status, string(list.body))
	s.requireSchema(t, "WorkspacePage", list.body)
	require.Len(t, list.json(t)["data"], 1)

	// PATCH: an absent field stays; a stale If-Match changes nothing.
	upd := s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+id, map[string]any{"name": "Platform"}, bearer(ann.access), withHeader("If-Match", etag))
	require.Equal(t, http.StatusOK, upd.status, string(upd.body))
	s.requireSchema(t, "Workspace", upd.body)
	require.Equal(t, "Platform", upd.json(t)["name"])
	require.Equal(t, "Builds things", upd.json(t)["description"])
	newTag := upd.header.Get("ETag")
	require.NotEqual(t, etag, newTag)
	s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+id, map[string]any{"name": "Stale"}, bearer(ann.access), withHeader("If-Match", etag)).
		problem(t, http.StatusPreconditionFailed, "precondition_failed")
	now, tag := s.get(t, ann, "/v1/orgs/acme/workspaces/"+id, "Workspace")
	require.Equal(t, "Platform", now["name"], "nothing changed")
	require.Equal(t, newTag, tag)
	s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+id, map[string]any{"name": "W"}, bearer(ann.access), withHeader("If-Match", `W/`+newTag)).
		problem(t, http.StatusPreconditionFailed, "precondition_failed")
	// A no-op PATCH is 200 and writes nothing.
	same := s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+id, map[string]any{}, bearer(ann.access))
	require.Equal(t, http.StatusOK, same.status, string(same.body))
	require.Equal(t, newTag, same.header.Get("ETag"))

	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		for body, field := range map[string]string{
			`{"name": ""}`:    "name",
			`{"name": "   "}`: "name",
			`{"name": "` + strings.Repeat("x", 201) + `"}`: "name",
			`{"name": "ok", "owner": "me"}`:                "owner",
			`{"name": 7}`:                                  "name",
			`{"name": "a\u0000b"}`:                         "name",
			`{"name": "ok", "description": null}`:          "",
		} {
			res := s.do(t, "POST", "/v1/orgs/acme/workspaces", body, bearer(ann.access))
			if field == "" {
				require.Equal(t, http.StatusCreated, res.status, body)
				continue
			}
			p := res.problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, body)
		}
		for body, field := range map[string]string{
			`{"name": null}`:        "name",
			`{"description": null}`: "description",
			`{"description": 5}`:    "description",
			`{"name": ""}`:          "name",
			`{"nme": "typo"}`:       "nme",
		} {
			p := s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+id, body, bearer(ann.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, body)
		}
		s.do(t, "POST", "/v1/orgs/acme/workspaces", `{"name": `, bearer(ann.access)).problem(t, http.StatusBadRequest, "malformed")
		s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+id, `[]`, bearer(ann.access)).problem(t, http.StatusBadRequest, "malformed")
		for _, bad := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000", coditect.NewID[coditect.WorkspaceID]().String()} {
			s.do(t, "GET", "/v1/orgs/acme/workspaces/"+bad, nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
			s.do(t, "PATCH", "/v1/orgs/acme/workspaces/"+bad, map[string]any{"name": "x"}, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
			s.do(t, "DELETE", "/v1/orgs/acme/workspaces/"+bad, nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
		}
	})

	t.Run("delete honours If-Match", func(t *testing.T) {
		t.Parallel()
		w, res := s.create(t, ann, "acme", "/workspaces", map[string]any{"name": "Doomed"}, "Workspace")
		wid := w["id"].(string)
		s.do(t, "DELETE", "/v1/orgs/acme/workspaces/"+wid, nil, bearer(ann.access), withHeader("If-Match", `"W1-stale"`)).
			problem(t, http.StatusPreconditionFailed, "precondition_failed")
		s.get(t, ann, "/v1/orgs/acme/workspaces/"+wid, "Workspace")
		del := s.do(t, "DELETE", "/v1/orgs/acme/workspaces/"+wid, nil, bearer(ann.access), withHeader("If-Match", res.header.Get("ETag")))
		require.Equal(t, http.StatusNoContent, del.status, string(del.body))
		require.Empty(t, del.body)
		s.do(t, "GET", "/v1/orgs/acme/workspaces/"+wid, nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "DELETE", "/v1/orgs/acme/workspaces/"+wid, nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
		log := s.auditLog(t, f.admin, "acme", "")
		require.Equal(t, []string{"workspace.create", "workspace.delete"}, actions(log, wid))
	})
}

func TestProjectsAndTasks(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, ann, mem := f.stack, f.owner, f.member

	ws, _ := s.create(t, ann, "acme", "/workspaces", map[string]any{"name": "Eng"}, "Workspace")
	wsID := ws["id"].(string)
	ws2, _ := s.create(t, ann, "acme", "/workspaces", map[string]any{"name": "Ops"}, "Workspace")
	theirs, _ := s.create(t, f.other, "globex", "/workspaces", map[string]any{"name": "Theirs"}, "Workspace")

	pr, _ := s.create(t, mem, "acme", "/projects", map[string]any{"workspace_id": wsID, "name": "API"}, "Project")
	prID := pr["id"].(string)
	require.Equal(t, wsID, pr["workspace_id"])
	require.Equal(t, "", pr["description"])
	s.create(t, mem, "acme", "/projects", map[string]any{"workspace_id": ws2["id"], "name": "Pager"}, "Project")

	t.Run("projects", func(t *testing.T) {
		t.Parallel()
		for body, field := range map[string]string{
			`{"name": "x"}`:                                                  "workspace_id",
			`{"workspace_id": null, "name": "x"}`:                            "workspace_id",
			`{"workspace_id": "nope", "name": "x"}`:                          "workspace_id",
			`{"workspace_id": 12, "name": "x"}`:                              "workspace_id",
			`{"workspace_id": "` + theirs["id"].(string) + `", "name": "x"}`: "workspace_id",
			`{"workspace_id": "` + coditect.NewID[coditect.TenantID]().String() + `", "name": "x"}`: "workspace_id",
			`{"workspace_id": "` + wsID + `", "name": ""}`:                                          "name",
		} {
			p := s.do(t, "POST", "/v1/orgs/acme/projects", body, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, body)
		}
		list := s.do(t, "GET", "/v1/orgs/acme/projects?workspace_id="+wsID, nil, bearer(f.viewer.access))
		require.Equal(t, http.StatusOK, list.status, string(list.body))
		s.requireSchema(t, "ProjectPage", list.body)
		data := list.json(t)["data"].([]any)
		require.Len(t, data, 1)
		require.Equal(t, prID, data[0].(map[string]any)["id"])
		all := s.do(t, "GET", "/v1/orgs/acme/projects", nil, bearer(f.viewer.access)).json(t)["data"].([]any)
		require.Len(t, all, 2)
		for _, q := range []string{"workspace_id=nope", "workspace_id=", "workspace_id=" + theirs["id"].(string)} {
			p := s.do(t, "GET", "/v1/orgs/acme/projects?"+q, nil, bearer(ann.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, "workspace_id", p.Errors[0].Field, q)
		}

		got, etag := s.get(t, mem, "/v1/orgs/acme/projects/"+prID, "Project")
		require.Equal(t, "API", got["name"])
		upd := s.do(t, "PATCH", "/v1/orgs/acme/projects/"+prID, map[string]any{"description": "The public API"}, bearer(mem.access), withHeader("If-Match", etag))
		require.Equal(t, http.StatusOK, upd.status, string(upd.body))
		require.Equal(t, "API", upd.json(t)["name"])
		require.Equal(t, "The public API", upd.json(t)["description"])
		s.do(t, "PATCH", "/v1/orgs/acme/projects/"+prID, map[string]any{"name": "Stale"}, bearer(mem.access), withHeader("If-Match", etag)).
			problem(t, http.StatusPreconditionFailed, "precondition_failed")
		s.do(t, "PATCH", "/v1/orgs/acme/projects/"+prID, map[string]any{"workspace_id": ws2["id"]}, bearer(mem.access)).
			problem(t, http.StatusUnprocessableEntity, "invalid")
		again, _ := s.get(t, mem, "/v1/orgs/acme/projects/"+prID, "Project")
		require.Equal(t, "API", again["name"])
	})

	t.Run("tasks", func(t *testing.T) {
		t.Parallel()
		tasks := "/v1/orgs/acme/projects/" + prID + "/tasks"
		t1, _ := s.create(t, mem, "acme", "/projects/"+prID+"/tasks", map[string]any{"title": "Write the spec"}, "Task")
		require.Equal(t, "todo", t1["status"])
		require.Nil(t, t1["assignee_id"])
		require.Nil(t, t1["due_at"])
		require.Equal(t, prID, t1["project_id"])
		t2, res := s.create(t, mem, "acme", "/projects/"+prID+"/tasks", map[string]any{"title": "Ship it", "status": "in_progress",
			"assignee_id": mem.accountID, "due_at": "2030-01-31T18:00:00+01:00"}, "Task")
		require.Equal(t, "/v1/orgs/acme/tasks/"+t2["id"].(string), res.header.Get("Location"))
		require.Equal(t, mem.accountID, t2["assignee_id"])
		require.Equal(t, "2030-01-31T17:00:00Z", t2["due_at"], "stored in UTC")

		for body, field := range map[string]string{
			`{"title": ""}`:                                              "title",
			`{"title": "x", "status": "blocked"}`:                        "status",
			`{"title": "x", "assignee_id": "nope"}`:                      "assignee_id",
			`{"title": "x", "assignee_id": "` + f.other.accountID + `"}`: "assignee_id",
			`{"title": "x", "assignee_id": "` + coditect.NewID[coditect.AccountID]().String() + `"}`: "assignee_id",
			`{"title": "x", "due_at": "tomorrow"}`:                                                   "due_at",
			`{"title": "x", "due_at": "1999-12-31T23:59:59Z"}`:                                       "due_at",
			`{"title": "x", "due_at": 5}`:                                                            "due_at",
			`{"title": "x", "project_id": "` + prID + `"}`:                                           "project_id",
		} {
			p := s.do(t, "POST", tasks, body, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, body)
		}
		s.do(t, "POST", "/v1/orgs/acme/projects/"+coditect.NewID[coditect.ProjectID]().String()+"/tasks", map[string]any{"title": "x"}, bearer(mem.access)).
			problem(t, http.StatusNotFound, "not_found")
		s.do(t, "POST", "/v1/orgs/acme/projects/nope/tasks", map[string]any{"title": "x"}, bearer(mem.access)).problem(t, http.StatusNotFound, "not_found")

		// Status transitions.
		id1 := t1["id"].(string)
		path1 := "/v1/orgs/acme/tasks/" + id1
		done := s.do(t, "PATCH", path1, map[string]any{"status": "done"}, bearer(mem.access))
		require.Equal(t, http.StatusOK, done.status, string(done.body))
		require.Equal(t, "done", done.json(t)["status"])
		s.do(t, "PATCH", path1, map[string]any{"status": "canceled"}, bearer(mem.access)).problem(t, http.StatusConflict, "task.invalid_transition")
		s.do(t, "PATCH", path1, map[string]any{"status": "finished"}, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
		s.do(t, "PATCH", path1, map[string]any{"status": nil}, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
		got, _ := s.get(t, mem, path1, "Task")
		require.Equal(t, "done", got["status"], "nothing changed")

		// Assignee and due date: set, absent = unchanged, null = cleared.
		p := s.do(t, "PATCH", path1, map[string]any{"assignee_id": f.viewer.accountID, "due_at": "2031-06-01T00:00:00Z"}, bearer(mem.access))
		require.Equal(t, http.StatusOK, p.status, string(p.body))
		require.Equal(t, f.viewer.accountID, p.json(t)["assignee_id"])
		p = s.do(t, "PATCH", path1, map[string]any{"title": "Write the spec, v2"}, bearer(mem.access))
		require.Equal(t, f.viewer.accountID, p.json(t)["assignee_id"])
		require.Equal(t, "2031-06-01T00:00:00Z", p.json(t)["due_at"])
		p = s.do(t, "PATCH", path1, `{"assignee_id": null}`, bearer(mem.access))
		require.Equal(t, http.StatusOK, p.status, string(p.body))
		require.Nil(t, p.json(t)["assignee_id"])
		require.Equal(t, "2031-06-01T00:00:00Z", p.json(t)["due_at"])
		p = s.do(t, "PATCH", path1, `{"due_at": null}`, bearer(mem.access))
		require.Nil(t, p.json(t)["due_at"])
		for body, field := range map[string]string{
			`{"assignee_id": "` + f.other.accountID + `"}`: "assignee_id",
			`{"assignee_id": "zz"}`:                        "assignee_id",
			`{"due_at": "2200-01-01T00:00:00Z"}`:           "due_at",
			`{"title": null}`:                              "title",
			`{"description": null}`:                        "description",
			`{"title": "x", "estimate": 3}`:                "estimate",
		} {
			p := s.do(t, "PATCH", path1, body, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, body)
		}

		// Filters.
		byStatus := s.do(t, "GET", tasks+"?status=in_progress", nil, bearer(f.viewer.access))
		require.Equal(t, http.StatusOK, byStatus.status, string(byStatus.body))
		s.requireSchema(t, "TaskPage", byStatus.body)
		data := byStatus.json(t)["data"].([]any)
		require.Len(t, data, 1)
		require.Equal(t, t2["id"], data[0].(map[string]any)["id"])
		mine := s.do(t, "GET", tasks+"?assignee_id="+mem.accountID+"&status=in_progress", nil, bearer(f.viewer.access)).json(t)["data"].([]any)
		require.Len(t, mine, 1)
		none := s.do(t, "GET", tasks+"?assignee_id="+f.admin.accountID, nil, bearer(f.viewer.access))
		require.Equal(t, http.StatusOK, none.status, "a member with no tasks: an empty page")
		require.Empty(t, none.json(t)["data"])
		for q, field := range map[string]string{
			"status=blocked":                   "status",
			"status=":                          "status",
			"assignee_id=nope":                 "assignee_id",
			"assignee_id=" + f.other.accountID: "assignee_id",
		} {
			p := s.do(t, "GET", tasks+"?"+q, nil, bearer(f.viewer.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, q)
		}
		s.do(t, "GET", "/v1/orgs/acme/projects/"+coditect.NewID[coditect.ProjectID]().String()+"/tasks", nil, bearer(mem.access)).
			problem(t, http.StatusNotFound, "not_found")

		// Delete with If-Match.
		_, etag := s.get(t, mem, path1, "Task")
		s.do(t, "DELETE", path1, nil, bearer(mem.access), withHeader("If-Match", `"W1-old"`)).problem(t, http.StatusPreconditionFailed, "precondition_failed")
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", path1, nil, bearer(mem.access), withHeader("If-Match", etag)).status)
		s.do(t, "GET", path1, nil, bearer(mem.access)).problem(t, http.StatusNotFound, "not_found")
	})
}

func TestWorkRoles(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s := f.stack
	ws, _ := s.create(t, f.member, "acme", "/workspaces", map[string]any{"name": "By a member"}, "Workspace")
	wsPath := "/v1/orgs/acme/workspaces/" + ws["id"].(string)
	pr, _ := s.create(t, f.member, "acme", "/projects", map[string]any{"workspace_id": ws["id"], "name": "P"}, "Project")
	prPath := "/v1/orgs/acme/projects/" + pr["id"].(string)
	tk, _ := s.create(t, f.member, "acme", "/projects/"+pr["id"].(string)+"/tasks", map[string]any{"title": "T"}, "Task")
	tkPath := "/v1/orgs/acme/tasks/" + tk["id"].(string)

	// A viewer reads everything and writes nothing.
	vic := bearer(f.viewer.access)
	for _, path := range []string{wsPath, prPath, tkPath, "/v1/orgs/acme/workspaces", "/v1/orgs/acme/projects", prPath + "/tasks"} {
		require.Equal(t, http.StatusOK, s.do(t, "GET", path, nil, vic).status, path)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/orgs/acme/workspaces", `{"name": "x"}`},
		{"POST", "/v1/orgs/acme/projects", `{"workspace_id": "` + ws["id"].(string) + `", "name": "x"}`},
		{"POST", prPath + "/tasks", `{"title": "x"}`},
		{"PATCH", wsPath, `{"name": "x"}`},
		{"PATCH", prPath, `{"name": "x"}`},
		{"PATCH", tkPath, `{"status": "done"}`},
		{"DELETE", tkPath, ""},
		{"DELETE", prPath, ""},
		{"DELETE", wsPath, ""},
		{"PATCH", "/v1/orgs/acme", `{"name": "Viewer Inc"}`},
		{"DELETE", "/v1/orgs/acme", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		s.do(t, c.method, c.path, body, vic).problem(t, http.StatusForbidden, "forbidden")
	}
	s.do(t, "GET", "/v1/orgs/acme/audit-logs", nil, vic).problem(t, http.StatusForbidden, "forbidden")
	s.do(t, "GET", "/v1/orgs/acme/audit-logs", nil, bearer(f.member.access)).problem(t, http.StatusForbidden, "forbidden")
	s.do(t, "PATCH", "/v1/orgs/acme", map[string]any{"name": "Member Inc"}, bearer(f.member.access)).problem(t, http.StatusForbidden, "forbidden")
	s.do(t, "DELETE", "/v1/orgs/acme", nil, bearer(f.admin.access)).problem(t, http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/audit-logs", nil, bearer(f.admin.access)).status)

	// A member writes.
	mem := bearer(f.member.access)
	require.Equal(t, http.StatusOK, s.do(t, "PATCH", tkPath, map[string]any{"status": "done"}, mem).status)
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", tkPath, nil, mem).status)

	// A viewer API key reads; a member key writes; neither reads the audit log.
	key := func(role string) string {
		res := s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": role, "role": role}, bearer(f.owner.access))
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		return res.json(t)["secret"].(string)
	}
	vk, mk := key("viewer"), key("member")
	require.Equal(t, http.StatusOK, s.do(t, "GET", wsPath, nil, bearer(vk)).status)
	s.do(t, "POST", "/v1/orgs/acme/workspaces", map[string]any{"name": "k"}, bearer(vk)).problem(t, http.StatusForbidden, "forbidden")
	made, _ := s.create(t, person{access: mk}, "acme", "/workspaces", map[string]any{"name": "By a key"}, "Workspace")
	s.do(t, "GET", "/v1/orgs/acme/audit-logs", nil, bearer(mk)).problem(t, http.StatusForbidden, "forbidden")
	rows := s.auditLog(t, f.admin, "acme", "&action=workspace.create")
	require.Equal(t, made["id"], rows[0]["target_id"])
	require.Equal(t, "api_key", rows[0]["actor_type"])
}

func TestWorkIsolation(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, ann, bob := f.stack, f.owner, f.other

	ws, _ := s.create(t, ann, "acme", "/workspaces", map[string]any{"name": "Secret plans"}, "Workspace")
	pr, _ := s.create(t, ann, "acme", "/projects", map[string]any{"workspace_id": ws["id"], "name": "P"}, "Project")
	tk, _ := s.create(t, ann, "acme", "/projects/"+pr["id"].(string)+"/tasks", map[string]any{"title": "T"}, "Task")
	s.create(t, bob, "globex", "/workspaces", map[string]any{"name": "Bob's"}, "Workspace")

	// Bob names Acme's ids under his own organization: not found, whatever the verb.
	for _, path := range []string{"/workspaces/" + ws["id"].(string), "/projects/" + pr["id"].(string), "/tasks/" + tk["id"].(string)} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			var body any
			if method == "PATCH" {
				body = map[string]any{}
			}
			s.do(t, method, "/v1/orgs/globex"+path, body, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		}
	}
	s.do(t, "GET", "/v1/orgs/globex/projects/"+pr["id"].(string)+"/tasks", nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
	s.do(t, "POST", "/v1/orgs/globex/projects/"+pr["id"].(string)+"/tasks", map[string]any{"title": "x"}, bearer(bob.access)).
		problem(t, http.StatusNotFound, "not_found")
	// …and under Acme's path he is not a member.
	for _, path := range []string{"", "/workspaces", "/workspaces/" + ws["id"].(string), "/projects", "/tasks/" + tk["id"].(string), "/audit-logs"} {
		s.do(t, "GET", "/v1/orgs/acme"+path, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
	}
	s.do(t, "POST", "/v1/orgs/acme/workspaces", map[string]any{"name": "x"}, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")

	// Acme's data is intact, and each audit log holds only its own organization's rows.
	got, _ := s.get(t, ann, "/v1/orgs/acme/workspaces/"+ws["id"].(string), "Workspace")
	require.Equal(t, "Secret plans", got["name"])
	bobsLog := s.auditLog(t, bob, "globex", "")
	for _, row := range bobsLog {
		require.NotContains(t, []any{ws["id"], pr["id"], tk["id"]}, row["target_id"])
	}
	require.Empty(t, s.auditLog(t, bob, "globex", "&actor_id="+ann.accountID), "Ann never acted in Globex")
	list := s.do(t, "GET", "/v1/orgs/globex/workspaces", nil, bearer(bob.access)).json(t)["data"].([]any)
	require.Len(t, list, 1)
}

func TestWorkspaceDeleteCascades(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, mem := f.stack, f.member
	ws, _ := s.create(t, mem, "acme", "/workspaces", map[string]any{"name": "Eng"}, "Workspace")
	var projects, tasks []string
	for _, name := range []string{"A", "B"} {
		pr, _ := s.create(t, mem, "acme", "/projects", map[string]any{"workspace_id": ws["id"], "name": name}, "Project")
		projects = append(projects, pr["id"].(string))
	}
	for i, title := range []string{"one", "two", "three"} {
		tk, _ := s.create(t, mem, "acme", "/projects/"+projects[i%2]+"/tasks", map[string]any{"title": title}, "Task")
		tasks = append(tasks, tk["id"].(string))
	}
	other, _ := s.create(t, mem, "acme", "/workspaces", map[string]any{"name": "Kept"}, "Workspace")
	kept, _ := s.create(t, mem, "acme", "/projects", map[string]any{"workspace_id": other["id"], "name": "Kept"}, "Project")

	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/workspaces/"+ws["id"].(string), nil, bearer(mem.access)).status)
	for _, id := range projects {
		s.do(t, "GET", "/v1/orgs/acme/projects/"+id, nil, bearer(mem.access)).problem(t, http.StatusNotFound, "not_found")
	}
	for _, id := range tasks {
		s.do(t, "GET", "/v1/orgs/acme/tasks/"+id, nil, bearer(mem.access)).problem(t, http.StatusNotFound, "not_found")
	}
	require.Equal(t, 0, s.queryInt(t, "SELECT count(*) FROM projects WHERE workspace_id = $1", ws["id"]))
	require.Equal(t, 0, s.queryInt(t, "SELECT count(*) FROM tasks WHERE project_id = ANY($1::uuid[])", projects))
	s.get(t, mem, "/v1/orgs/acme/projects/"+kept["id"].(string), "Project")

	rows := s.auditLog(t, f.admin, "acme", "&action=workspace.delete")
	require.Len(t, rows, 1)
	require.Equal(t, ws["id"], rows[0]["target_id"])
	ch := rows[0]["changes"].(map[string]any)
	require.EqualValues(t, 2, ch["projects_deleted"])
	require.EqualValues(t, 3, ch["tasks_deleted"])
	require.Equal(t, "Eng", ch["name"])

	// A project delete takes its tasks too.
	tk, _ := s.create(t, mem, "acme", "/projects/"+kept["id"].(string)+"/tasks", map[string]any{"title": "x"}, "Task")
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/projects/"+kept["id"].(string), nil, bearer(mem.access)).status)
	s.do(t, "GET", "/v1/orgs/acme/tasks/"+tk["id"].(string), nil, bearer(mem.access)).problem(t, http.StatusNotFound, "not_found")
	rows = s.auditLog(t, f.admin, "acme", "&action=project.delete")
	require.Len(t, rows, 1)
	require.EqualValues(t, 1, rows[0]["changes"].(map[string]any)["tasks_deleted"])
}

func TestEveryMutationWritesOneAuditRow(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, mem := f.stack, f.member
	before := s.auditLog(t, f.admin, "acme", "")
	start := time.Now().UTC()

	ws, _ := s.create(t, mem, "acme", "/workspaces", map[string]any{"name": "W"}, "Workspace")
	wsPath := "/v1/orgs/acme/workspaces/" + ws["id"].(string)
	require.Equal(t, http.StatusOK, s.do(t, "PATCH", wsPath, map[string]any{"name": "W2"}, bearer(mem.access)).status)
	require.Equal(t, http.StatusOK, s.do(t, "PATCH", wsPath, map[string]any{"name": "W2"}, bearer(mem.access)).status) // no change: no row
	pr, _ := s.create(t, mem, "acme", "/projects", map[string]any{"workspace_id": ws["id"], "name": "P"}, "Project")
	prPath := "/v1/orgs/acme/projects/" + pr["id"].(string)
	require.Equal(t, http.StatusOK, s.do(t, "PATCH", prPath, map[string]any{"description": "d"}, bearer(mem.access)).status)
	tk, _ := s.create(t, mem, "acme", "/projects/"+pr["id"].(string)+"/tasks", map[string]any{"title": "T"}, "Task")
	tkPath := "/v1/orgs/acme/tasks/" + tk["id"].(string)
	require.Equal(t, http.StatusOK, s.do(t, "PATCH", tkPath, map[string]any{"status": "in_progress", "assignee_id": mem.accountID}, bearer(mem.access)).status)
	// Failed changes write nothing.
	s.do(t, "PATCH", tkPath, map[string]any{"status": "todo"}, bearer(mem.access), withHeader("If-Match", `"W1-x"`)).problem(t, http.StatusPreconditionFailed, "precondition_failed")
	s.do(t, "PATCH", tkPath, map[string]any{"title": ""}, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", tkPath, nil, bearer(mem.access)).status)
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", prPath, nil, bearer(mem.access)).status)
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", wsPath, nil, bearer(mem.access)).status)
	rename := s.do(t, "PATCH", "/v1/orgs/acme", map[string]any{"name": "Acme Corp"}, bearer(f.admin.access))
	require.Equal(t, http.StatusOK, rename.status, string(rename.body))

	log := s.auditLog(t, f.admin, "acme", "")
	added := log[:len(log)-len(before)]
	var got []string
	for i := len(added) - 1; i >= 0; i-- {
		got = append(got, added[i]["action"].(string))
	}
	require.Equal(t, []string{"workspace.create", "workspace.update", "project.create", "project.update", "task.create", "task.update",
		"task.delete", "project.delete", "workspace.delete", "organization.update"}, got)
	for _, row := range added {
		require.Equal(t, "account", row["actor_type"])
		require.Equal(t, "127.0.0.1", row["ip"])
		require.Equal(t, "httpapi-test/1.0", row["user_agent"])
		at, err := time.Parse(time.RFC3339Nano, row["created_at"].(string))
		require.NoError(t, err)
		require.True(t, at.After(start))
	}
	require.Equal(t, f.admin.accountID, added[0]["actor_id"])
	require.Equal(t, mem.accountID, added[1]["actor_id"])
	upd := added[len(added)-6]["changes"].(map[string]any) // task.update
	require.Equal(t, "in_progress", upd["status"])
	require.Equal(t, "todo", upd["previous_status"])
	require.Equal(t, map[string]any{"name": "Acme Corp", "previous_name": "Acme"}, added[0]["changes"])

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		byMember := s.auditLog(t, f.admin, "acme", "&actor_id="+mem.accountID)
		require.Len(t, byMember, 9+1, "nine changes here and the invitation accept")
		for _, row := range byMember {
			require.Equal(t, mem.accountID, row["actor_id"])
		}
		creates := s.auditLog(t, f.admin, "acme", "&action=task.create")
		require.Len(t, creates, 1)
		require.Equal(t, tk["id"], creates[0]["target_id"])
		require.Empty(t, s.auditLog(t, f.admin, "acme", "&action=task.create&actor_id="+f.admin.accountID))

		// A time window: since is inclusive, until exclusive.
		at := creates[0]["created_at"].(string)
		require.Len(t, s.auditLog(t, f.admin, "acme", "&action=task.create&since="+url.QueryEscape(at)), 1)
		require.Empty(t, s.auditLog(t, f.admin, "acme", "&action=task.create&until="+url.QueryEscape(at)))
		window := s.auditLog(t, f.admin, "acme", "&since="+url.QueryEscape(start.Format(time.RFC3339Nano))+"&until="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)))
		require.Len(t, window, len(added))

		for q, field := range map[string]string{
			"actor_id=nope":    "actor_id",
			"since=yesterday":  "since",
			"until=2024-13-01": "until",
			"since=2030-01-01T00:00:00Z&until=2029-01-01T00:00:00Z": "until",
			"action=" + strings.Repeat("a", 101):                    "action",
		} {
			p := s.do(t, "GET", "/v1/orgs/acme/audit-logs?"+q, nil, bearer(f.admin.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, field, p.Errors[0].Field, q)
		}
	})

	t.Run("newest first, page by page", func(t *testing.T) {
		t.Parallel()
		var seen []map[string]any
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 50)
			res := s.do(t, "GET", "/v1/orgs/acme/audit-logs?limit=3"+cursor, nil, bearer(f.admin.access))
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			var pg page[map[string]any]
			require.NoError(t, json.Unmarshal(res.body, &pg))
			require.LessOrEqual(t, len(pg.Data), 3)
			seen = append(seen, pg.Data...)
			if pg.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*pg.NextCursor)
		}
		require.Equal(t, log, seen[:len(log)])
		for i := 1; i < len(seen); i++ {
			a, _ := time.Parse(time.RFC3339Nano, seen[i-1]["created_at"].(string))
			b, _ := time.Parse(time.RFC3339Nano, seen[i]["created_at"].(string))
			require.False(t, b.After(a), "newest first")
		}
	})
}

func TestWorkListPages(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, mem := f.stack, f.member

	var existing []string
	for i := range 7 {
		ws, _ := s.create(t, mem, "acme", "/workspaces", map[string]any{"name": "ws " + string(rune('a'+i))}, "Workspace")
		existing = append(existing, ws["id"].(string))
	}

	t.Run("stable under concurrent inserts", func(t *testing.T) {
		t.Parallel()
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 20)
			res := s.do(t, "GET", "/v1/orgs/acme/workspaces?limit=3"+cursor, nil, bearer(mem.access))
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			var pg page[map[string]any]
			require.NoError(t, json.Unmarshal(res.body, &pg))
			for _, w := range pg.Data {
				got = append(got, w["id"].(string))
			}
			// Others write between our pages.
			done := make(chan answer, 2)
			for range 2 {
				go func() {
					done <- s.do(t, "POST", "/v1/orgs/acme/workspaces", map[string]any{"name": "meanwhile"}, bearer(f.owner.access))
				}()
			}
			for range 2 {
				require.Equal(t, http.StatusCreated, (<-done).status)
			}
			if pg.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*pg.NextCursor)
		}
		seen := map[string]bool{}
		for _, id := range got {
			require.False(t, seen[id], "duplicate %s", id)
			seen[id] = true
		}
		require.Equal(t, existing, got[:len(existing)], "every row that existed, in order, before any new one")
	})

	t.Run("cursors are tamper-evident and bound to their list", func(t *testing.T) {
		t.Parallel()
		first := s.do(t, "GET", "/v1/orgs/acme/workspaces?limit=1", nil, bearer(mem.access)).json(t)
		good := first["next_cursor"].(string)
		raw, err := base64.RawURLEncoding.DecodeString(good)
		require.NoError(t, err)
		raw[5] ^= 1
		for _, q := range []string{"cursor=" + base64.RawURLEncoding.EncodeToString(raw), "cursor=abc", "limit=0", "limit=201"} {
			p := s.do(t, "GET", "/v1/orgs/acme/workspaces?"+q, nil, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Contains(t, []string{"limit", "cursor"}, p.Errors[0].Field)
		}
		s.do(t, "GET", "/v1/orgs/acme/projects?cursor="+good, nil, bearer(mem.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
		s.do(t, "GET", "/v1/orgs/acme/audit-logs?cursor="+good, nil, bearer(f.admin.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
	})
}

// TestListAtTheStoreCap: the store answers at most 200 rows, so at limit=200 a full
// page always carries a cursor, and the page after it may be empty.
func TestListAtTheStoreCap(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	insert := func(n int) {
		require.Equal(t, n, s.queryInt(t, `WITH made AS (
			INSERT INTO workspaces (tenant_id, id, name) SELECT $1, gen_random_uuid(), 'bulk ' || i FROM generate_series(1, $2) AS i RETURNING 1)
			SELECT count(*) FROM made`, ann.orgID, n))
	}
	read := func(q string) page[map[string]any] {
		res := s.do(t, "GET", "/v1/orgs/acme/workspaces?"+q, nil, bearer(ann.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		var pg page[map[string]any]
		require.NoError(t, json.Unmarshal(res.body, &pg))
		return pg
	}

	insert(200)
	full := read("limit=200")
	require.Len(t, full.Data, 200)
	require.NotNil(t, full.NextCursor, "exactly 200 rows: the store cannot say whether more follow")
	after := read("limit=200&cursor=" + url.QueryEscape(*full.NextCursor))
	require.Empty(t, after.Data)
	require.Nil(t, after.NextCursor)
	require.Nil(t, read("limit=199&cursor="+url.QueryEscape(*read("limit=1").NextCursor)).NextCursor, "below the cap the probe works: 199 rows, no cursor")

	insert(1)
	full = read("limit=200")
	require.Len(t, full.Data, 200)
	rest := read("limit=200&cursor=" + url.QueryEscape(*full.NextCursor))
	require.Len(t, rest.Data, 1)
	require.Nil(t, rest.NextCursor)
	seen := map[any]bool{}
	for _, w := range append(full.Data, rest.Data...) {
		require.False(t, seen[w["id"]])
		seen[w["id"]] = true
	}
}

func TestOrganizationRenameAndDelete(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, ann := f.stack, f.owner

	org, etag := s.get(t, f.viewer, "/v1/orgs/acme", "Organization")
	require.Equal(t, "Acme", org["name"])

	s.do(t, "PATCH", "/v1/orgs/acme", map[string]any{"name": "Stale Inc"}, bearer(f.admin.access), withHeader("If-Match", `"O1-stale"`)).
		problem(t, http.StatusPreconditionFailed, "precondition_failed")
	for body, field := range map[string]string{`{}`: "name", `{"name": null}`: "name", `{"name": " "}`: "name", `{"name": "x", "slug": "y"}`: "slug"} {
		p := s.do(t, "PATCH", "/v1/orgs/acme", body, bearer(f.admin.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, field, p.Errors[0].Field, body)
	}
	res := s.do(t, "PATCH", "/v1/orgs/acme", map[string]any{"name": " Acme Corporation "}, bearer(f.admin.access), withHeader("If-Match", etag))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "Organization", res.body)
	require.Equal(t, "Acme Corporation", res.json(t)["name"])
	require.Equal(t, "acme", res.json(t)["slug"])
	newTag := res.header.Get("ETag")
	require.NotEqual(t, etag, newTag)
	s.do(t, "PATCH", "/v1/orgs/acme", map[string]any{"name": "Again"}, bearer(ann.access), withHeader("If-Match", etag)).
		problem(t, http.StatusPreconditionFailed, "precondition_failed")
	now, tag := s.get(t, ann, "/v1/orgs/acme", "Organization")
	require.Equal(t, "Acme Corporation", now["name"])
	require.Equal(t, newTag, tag)
	require.Len(t, s.auditLog(t, ann, "acme", "&action=organization.update"), 1)

	// Deleting: owner only, If-Match honoured, 202, then gone for everyone.
	ws, _ := s.create(t, f.member, "acme", "/workspaces", map[string]any{"name": "W"}, "Workspace")
	s.do(t, "DELETE", "/v1/orgs/acme", nil, bearer(f.admin.access)).problem(t, http.StatusForbidden, "forbidden")
	s.do(t, "DELETE", "/v1/orgs/acme", nil, bearer(ann.access), withHeader("If-Match", etag)).problem(t, http.StatusPreconditionFailed, "precondition_failed")
	s.get(t, f.member, "/v1/orgs/acme/workspaces/"+ws["id"].(string), "Workspace")
	del := s.do(t, "DELETE", "/v1/orgs/acme", nil, bearer(ann.access), withHeader("If-Match", newTag))
	require.Equal(t, http.StatusAccepted, del.status, string(del.body))
	for _, p := range []person{ann, f.admin, f.member, f.viewer} {
		s.do(t, "GET", "/v1/orgs/acme", nil, bearer(p.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/"+ann.orgID+"/workspaces/"+ws["id"].(string), nil, bearer(p.access)).problem(t, http.StatusNotFound, "not_found")
	}
	s.do(t, "DELETE", "/v1/orgs/acme", nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
	require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'organization.delete'", ann.orgID))
	// Globex is untouched.
	s.get(t, f.other, "/v1/orgs/globex", "Organization")
}
