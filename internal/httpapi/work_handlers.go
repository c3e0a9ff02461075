package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/work"
)

// The work API: workspaces → projects → tasks, and the audit log. Handlers decode
// and check the request's shape (field-level errors for bad UUIDs and times, null
// only where a field can be cleared) and leave the rules to work.Service, which
// authorizes, validates, checks If-Match inside its transaction and writes the audit
// row. Single resources carry their ETag; creates answer 201 with Location and ETag.

// unavailable answers every request with 503: a route whose service is not configured.
func unavailable(what string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, coditect.Errorf(coditect.CodeUnavailable, "%s is not configured on this server", what))
	})
}

// location is the URL of a resource in the request's organization, as the client
// named it ({org} slug or id).
func location(r *http.Request, collection, id string) string {
	return "/v1/orgs/" + url.PathEscape(r.PathValue("org")) + "/" + collection + "/" + id
}

// created answers 201 with the new resource, its Location and its ETag.
func created(w http.ResponseWriter, r *http.Request, collection, id, etag string, v any) {
	h := w.Header()
	h.Set("Location", location(r, collection, id))
	h.Set("ETag", etag)
	writeJSON(w, http.StatusCreated, v)
}

// withETag answers 200 with a single resource and its ETag.
func withETag(w http.ResponseWriter, etag string, v any) {
	w.Header().Set("ETag", etag)
	writeJSON(w, http.StatusOK, v)
}

// workPage converts the pager's page to work's.
func workPage(p account.Page) work.Page { return work.Page(p) }

// ---- organization -----------------------------------------------------------------

type organizationPatch struct {
	Name field `json:"name"`
}

// handleOrganizationUpdate: PATCH /v1/orgs/{org}.
func handleOrganizationUpdate(accts AccountService, baseDomain string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in organizationPatch
		if decodeJSON(w, r, &in) != nil {
			return
		}
		var f bodyFields
		name := f.text("name", in.Name)
		if !in.Name.set {
			f.add("name", "is required")
		}
		if err := f.err(); err != nil {
			writeProblem(w, r, err)
			return
		}
		org, err := accts.RenameOrganization(r.Context(), *name, r.Header.Get("If-Match"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, account.OrganizationETag(org), organizationOf(org, baseDomain))
	})
}

// handleOrganizationDelete: DELETE /v1/orgs/{org}. The organization is cut off at
// once; its data is erased in the background, hence 202.
func handleOrganizationDelete(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := accts.DeleteOrganizationIfMatch(r.Context(), r.Header.Get("If-Match")); err != nil {
			writeProblem(w, r, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

// ---- workspaces -------------------------------------------------------------------

// handleWorkspaceList: GET /v1/orgs/{org}/workspaces.
func handleWorkspaceList(svc WorkService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, pg, "workspaces", func(ctx context.Context, p account.Page) ([]work.Workspace, error) {
			return svc.Workspaces(ctx, workPage(p))
		}, func(ws work.Workspace) (time.Time, [16]byte) { return ws.CreatedAt, ws.ID })
	})
}

// handleWorkspaceCreate: POST /v1/orgs/{org}/workspaces.
func handleWorkspaceCreate(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in work.CreateWorkspaceParams
		if decodeJSON(w, r, &in) != nil {
			return
		}
		ws, err := svc.CreateWorkspace(r.Context(), in)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		created(w, r, "workspaces", ws.ID.String(), work.ETag(ws), ws)
	})
}

// handleWorkspaceGet: GET /v1/orgs/{org}/workspaces/{id}.
func handleWorkspaceGet(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.WorkspaceID](w, r, "id", "workspace")
		if !ok {
			return
		}
		ws, err := svc.Workspace(r.Context(), id)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, work.ETag(ws), ws)
	})
}

// namedPatch is the partial update of a workspace or project.
type namedPatch struct {
	Name        field `json:"name"`
	Description field `json:"description"`
}

func (p namedPatch) params() (work.UpdateWorkspaceParams, error) {
	var f bodyFields
	out := work.UpdateWorkspaceParams{Name: f.text("name", p.Name), Description: f.text("description", p.Description)}
	return out, f.err()
}

// handleWorkspaceUpdate: PATCH /v1/orgs/{org}/workspaces/{id}.
func handleWorkspaceUpdate(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.WorkspaceID](w, r, "id", "workspace")
		if !ok {
			return
		}
		var in namedPatch
		if decodeJSON(w, r, &in) != nil {
			return
		}
		p, err := in.params()
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		ws, err := svc.UpdateWorkspace(r.Context(), id, p, r.Header.Get("If-Match"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, work.ETag(ws), ws)
	})
}

// handleWorkspaceDelete: DELETE /v1/orgs/{org}/workspaces/{id}, with its projects and
// their tasks.
func handleWorkspaceDelete(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.WorkspaceID](w, r, "id", "workspace")
		if !ok {
			return
		}
		if err := svc.DeleteWorkspace(r.Context(), id, r.Header.Get("If-Match")); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// ---- projects ---------------------------------------------------------------------

// handleProjectList: GET /v1/orgs/{org}/projects[?workspace_id=].
func handleProjectList(svc WorkService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := query(r.URL.RawQuery)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		var f bodyFields
		filter := work.ProjectFilter{WorkspaceID: queryUUID[coditect.WorkspaceID](&f, q, "workspace_id")}
		if err := f.err(); err != nil {
			writeProblem(w, r, err)
			return
		}
		serveList(w, r, pg, "projects", func(ctx context.Context, p account.Page) ([]work.Project, error) {
			return svc.Projects(ctx, filter, workPage(p))
		}, func(p work.Project) (time.Time, [16]byte) { return p.CreatedAt, p.ID })
	})
}

type projectCreateRequest struct {
	WorkspaceID field  `json:"workspace_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// handleProjectCreate: POST /v1/orgs/{org}/projects.
func handleProjectCreate(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in projectCreateRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		var f bodyFields
		ws := uuidOf[coditect.WorkspaceID](&f, "workspace_id", in.WorkspaceID, false)
		if !in.WorkspaceID.set {
			f.add("workspace_id", "is required")
		}
		if err := f.err(); err != nil {
			writeProblem(w, r, err)
			return
		}
		p, err := svc.CreateProject(r.Context(), work.CreateProjectParams{WorkspaceID: *ws.Value, Name: in.Name, Description: in.Description})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		created(w, r, "projects", p.ID.String(), work.ETag(p), p)
	})
}

// handleProjectGet: GET /v1/orgs/{org}/projects/{id}.
func handleProjectGet(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.ProjectID](w, r, "id", "project")
		if !ok {
			return
		}
		p, err := svc.Project(r.Context(), id)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, work.ETag(p), p)
	})
}

// handleProjectUpdate: PATCH /v1/orgs/{org}/projects/{id}.
func handleProjectUpdate(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.ProjectID](w, r, "id", "project")
		if !ok {
			return
		}
		var in namedPatch
		if decodeJSON(w, r, &in) != nil {
			return
		}
		p, err := in.params()
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		pr, err := svc.UpdateProject(r.Context(), id, work.UpdateProjectParams(p), r.Header.Get("If-Match"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, work.ETag(pr), pr)
	})
}

// handleProjectDelete: DELETE /v1/orgs/{org}/projects/{id}, with its tasks.
func handleProjectDelete(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.ProjectID](w, r, "id", "project")
		if !ok {
			return
		}
		if err := svc.DeleteProject(r.Context(), id, r.Header.Get("If-Match")); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// ---- tasks ------------------------------------------------------------------------

// handleTaskList: GET /v1/orgs/{org}/projects/{id}/tasks[?status=&assignee_id=].
func handleTaskList(svc WorkService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		project, ok := pathID[coditect.ProjectID](w, r, "id", "project")
		if !ok {
			return
		}
		q, err := query(r.URL.RawQuery)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		var f bodyFields
		filter := work.TaskFilter{ProjectID: project, AssigneeID: queryUUID[coditect.AccountID](&f, q, "assignee_id")}
		if q.Has("status") {
			st := work.TaskStatus(q.Get("status"))
			if !st.Valid() {
				f.add("status", "must be one of todo, in_progress, done, canceled")
			}
			filter.Status = &st
		}
		if err := f.err(); err != nil {
			writeProblem(w, r, err)
			return
		}
		serveList(w, r, pg, "tasks", func(ctx context.Context, p account.Page) ([]work.Task, error) {
			return svc.Tasks(ctx, filter, workPage(p))
		}, func(t work.Task) (time.Time, [16]byte) { return t.CreatedAt, t.ID })
	})
}

type taskCreateRequest struct {
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Status      work.TaskStatus `json:"status"`
	AssigneeID  field           `json:"assignee_id"`
	DueAt       field           `json:"due_at"`
}

// handleTaskCreate: POST /v1/orgs/{org}/projects/{id}/tasks.
func handleTaskCreate(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		project, ok := pathID[coditect.ProjectID](w, r, "id", "project")
		if !ok {
			return
		}
		var in taskCreateRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		var f bodyFields
		assignee := uuidOf[coditect.AccountID](&f, "assignee_id", in.AssigneeID, true)
		due := f.timeOf("due_at", in.DueAt, true)
		if err := f.err(); err != nil {
			writeProblem(w, r, err)
			return
		}
		t, err := svc.CreateTask(r.Context(), work.CreateTaskParams{ProjectID: project, Title: in.Title, Description: in.Description,
			Status: in.Status, AssigneeID: assignee.Value, DueAt: due.Value})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		created(w, r, "tasks", t.ID.String(), work.ETag(t), t)
	})
}

// handleTaskGet: GET /v1/orgs/{org}/tasks/{id}.
func handleTaskGet(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.TaskID](w, r, "id", "task")
		if !ok {
			return
		}
		t, err := svc.Task(r.Context(), id)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, work.ETag(t), t)
	})
}

type taskPatch struct {
	Title       field `json:"title"`
	Description field `json:"description"`
	Status      field `json:"status"`
	AssigneeID  field `json:"assignee_id"`
	DueAt       field `json:"due_at"`
}

func (p taskPatch) params() (work.UpdateTaskParams, error) {
	var f bodyFields
	out := work.UpdateTaskParams{
		Title:       f.text("title", p.Title),
		Description: f.text("description", p.Description),
		AssigneeID:  uuidOf[coditect.AccountID](&f, "assignee_id", p.AssigneeID, true),
		DueAt:       f.timeOf("due_at", p.DueAt, true),
	}
	if s := f.text("status", p.Status); s != nil {
		st := work.TaskStatus(*s)
		out.Status = &st
	}
	return out, f.err()
}

// handleTaskUpdate: PATCH /v1/orgs/{org}/tasks/{id}.
func handleTaskUpdate(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.TaskID](w, r, "id", "task")
		if !ok {
			return
		}
		var in taskPatch
		if decodeJSON(w, r, &in) != nil {
			return
		}
		p, err := in.params()
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		t, err := svc.UpdateTask(r.Context(), id, p, r.Header.Get("If-Match"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, work.ETag(t), t)
	})
}

// handleTaskDelete: DELETE /v1/orgs/{org}/tasks/{id}.
func handleTaskDelete(svc WorkService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.TaskID](w, r, "id", "task")
		if !ok {
			return
		}
		if err := svc.DeleteTask(r.Context(), id, r.Header.Get("If-Match")); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// ---- audit log --------------------------------------------------------------------

// auditEntryBody is one audit row as the API shows it.
type auditEntryBody struct {
	ID         coditect.AuditLogID `json:"id"`
	ActorID    *string             `json:"actor_id"`
	ActorType  coditect.ActorKind  `json:"actor_type"`
	Action     string              `json:"action"`
	TargetType string              `json:"target_type"`
	TargetID   string              `json:"target_id"`
	IP         *netip.Addr         `json:"ip"`
	UserAgent  string              `json:"user_agent"`
	CreatedAt  time.Time           `json:"created_at"`
	Changes    json.RawMessage     `json:"changes"`
}

func auditEntryOf(e audit.Entry) auditEntryBody {
	b := auditEntryBody{ID: e.ID, ActorType: e.ActorType, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
		IP: e.IP, UserAgent: e.UserAgent, CreatedAt: e.CreatedAt, Changes: e.Changes}
	if e.ActorID != nil {
		s := uuid.UUID(*e.ActorID).String() // an account, API key or OAuth client id
		b.ActorID = &s
	}
	if len(b.Changes) == 0 {
		b.Changes = json.RawMessage("{}")
	}
	return b
}

// handleAuditLogList: GET /v1/orgs/{org}/audit-logs[?actor_id=&action=&since=&until=],
// newest first; the cursor is the position (created_at, id) of the page's last row
// and the next page holds the rows before it.
func handleAuditLogList(svc AuditService, pg pager) http.Handler {
	const list = "audit_logs"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := query(r.URL.RawQuery)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		var f bodyFields
		var filter audit.Filter
		if id := queryUUID[coditect.AccountID](&f, q, "actor_id"); id != nil {
			b := id.Bytes()
			filter.ActorID = &b
		}
		filter.Action = q.Get("action")
		filter.Since = f.queryTime(q, "since")
		filter.Until = f.queryTime(q, "until")
		if err := f.err(); err != nil {
			writeProblem(w, r, err)
			return
		}
		limit, pos, err := pg.parse(r, list)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		filter.Limit = min(limit+1, storeMaxPage)
		filter.BeforeCreatedAt, filter.BeforeID = pos.at, pos.id
		entries, err := svc.List(r.Context(), filter)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		items := make([]auditEntryBody, 0, min(len(entries), limit))
		for _, e := range entries[:min(len(entries), limit)] {
			items = append(items, auditEntryOf(e))
		}
		writePage(w, pg, list, items, morePages(len(entries), limit), func(e auditEntryBody) (time.Time, [16]byte) { return e.CreatedAt, e.ID })
	})
}
