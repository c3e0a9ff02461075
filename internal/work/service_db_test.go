// These tests run the work service against a real PostgreSQL through
// postgres.WorkStore.
package work_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

// fixture is a fresh database with two organizations: A, where an owner, a member and
// a viewer act, and B, whose owner must never see or touch A's data.
type fixture struct {
	svc                   *work.Service
	store                 *postgres.Store
	db                    postgrestest.DB
	owner, member, viewer context.Context // tenant A
	other                 context.Context // tenant B's owner
	ownerID, memberID     coditect.AccountID
	viewerID, outsiderID  coditect.AccountID // outsiderID: B's owner, not a member of A
}

var (
	clientIP  = netip.MustParseAddr("203.0.113.7")
	userAgent = "work-db-test/1"
)

func setup(t *testing.T) fixture {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	ws := postgres.WorkStore{Store: store}
	f := fixture{svc: work.NewService(ws, ws), store: store, db: db}
	var tenantA coditect.TenantID
	f.owner, f.ownerID, tenantA = newTenant(t, store, "work-a")
	f.other, f.outsiderID, _ = newTenant(t, store, "work-b")
	f.member, f.memberID = addMember(t, store, f.owner, tenantA, coditect.RoleMember)
	f.viewer, f.viewerID = addMember(t, store, f.owner, tenantA, coditect.RoleViewer)
	return f
}

// actor returns a request-like context for an account acting in tenant with role.
func actor(id coditect.AccountID, tenant coditect.TenantID, role coditect.Role) context.Context {
	ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: id, Tenant: tenant, Role: role})
	return audit.WithInfo(ctx, audit.RequestInfo{IP: &clientIP, UserAgent: userAgent})
}

// newTenant signs up an owner and an organization the way onboarding does.
func newTenant(t *testing.T, store *postgres.Store, slug string) (context.Context, coditect.AccountID, coditect.TenantID) {
	t.Helper()
	tenant, owner := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.AccountID]()
	ctx := actor(owner, tenant, coditect.RoleOwner)
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(ctx, account.Account{ID: owner, Email: slug + "@example.com", Name: slug, PasswordHash: "x"}); err != nil {
			return err
		}
		if _, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: slug, Name: slug}, slug+".coditect.test"); err != nil {
			return err
		}
		return tx.MembershipCreate(ctx, owner, coditect.RoleOwner)
	})
	require.NoError(t, err)
	return ctx, owner, tenant
}

// addMember creates an account and makes it a member of the tenant with role.
func addMember(t *testing.T, store *postgres.Store, ownerCtx context.Context, tenant coditect.TenantID, role coditect.Role) (context.Context, coditect.AccountID) {
	t.Helper()
	id := coditect.NewID[coditect.AccountID]()
	err := store.InTx(ownerCtx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(ownerCtx, account.Account{ID: id, Email: id.String() + "@example.com", Name: "someone", PasswordHash: "x"}); err != nil {
			return err
		}
		return tx.MembershipCreate(ownerCtx, id, role)
	})
	require.NoError(t, err)
	return actor(id, tenant, role), id
}

// auditRows returns the tenant's audit rows, oldest first.
func auditRows(t *testing.T, f fixture, ctx context.Context) []audit.Entry {
	t.Helper()
	rows, err := f.store.AuditLogList(ctx, 200, time.Time{}, [16]byte{})
	require.NoError(t, err)
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows
}

// changesOf decodes an audit row's changes.
func changesOf(t *testing.T, e audit.Entry) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.Changes, &m))
	return m
}

func requireCode(t *testing.T, err error, code coditect.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, coditect.ErrorCode(err), "got %v", err)
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	requireCode(t, err, coditect.CodeInvalid)
	var got []string
	for _, fe := range err.(*coditect.Error).Fields {
		got = append(got, fe.Field)
	}
	require.ElementsMatch(t, fields, got)
}

func ptr[T any](v T) *T { return &v }

// tree makes a workspace with a project and a task in tenant A, as the owner.
func tree(t *testing.T, f fixture) (work.Workspace, work.Project, work.Task) {
	t.Helper()
	w, err := f.svc.CreateWorkspace(f.owner, work.CreateWorkspaceParams{Name: "Engineering"})
	require.NoError(t, err)
	p, err := f.svc.CreateProject(f.owner, work.CreateProjectParams{WorkspaceID: w.ID, Name: "API"})
	require.NoError(t, err)
	tk, err := f.svc.CreateTask(f.owner, work.CreateTaskParams{ProjectID: p.ID, Title: "Write the handler"})
	require.NoError(t, err)
	return w, p, tk
}

func TestServiceCRUD(t *testing.T) {
	t.Parallel()
	f := setup(t)
	due := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

	w, err := f.svc.CreateWorkspace(f.member, work.CreateWorkspaceParams{Name: "  Engineering ", Description: "builds things"})
	require.NoError(t, err)
	require.Equal(t, "Engineering", w.Name, "names are trimmed")
	p, err := f.svc.CreateProject(f.member, work.CreateProjectParams{WorkspaceID: w.ID, Name: "API"})
	require.NoError(t, err)
	require.Equal(t, w.ID, p.WorkspaceID)
	tk, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p.ID, Title: "Handler", AssigneeID: &f.memberID, DueAt: &due})
	require.NoError(t, err)
	require.Equal(t, work.TaskTodo, tk.Status, "status defaults to todo")
	require.Equal(t, &f.memberID, tk.AssigneeID)
	require.True(t, tk.DueAt.Equal(due))

	gotW, err := f.svc.Workspace(f.viewer, w.ID)
	require.NoError(t, err)
	require.Equal(t, work.ETag(w), work.ETag(gotW), "the ETag of what a write returns is the ETag a read returns")
	gotP, err := f.svc.Project(f.viewer, p.ID)
	require.NoError(t, err)
	require.Equal(t, work.ETag(p), work.ETag(gotP))
	gotT, err := f.svc.Task(f.viewer, tk.ID)
	require.NoError(t, err)
	require.Equal(t, work.ETag(tk), work.ETag(gotT))

	ws, err := f.svc.Workspaces(f.viewer, work.Page{})
	require.NoError(t, err)
	require.Len(t, ws, 1)
	ps, err := f.svc.Projects(f.viewer, work.ProjectFilter{WorkspaceID: &w.ID}, work.Page{})
	require.NoError(t, err)
	require.Len(t, ps, 1)
	ts, err := f.svc.Tasks(f.viewer, work.TaskFilter{ProjectID: p.ID, Status: ptr(work.TaskTodo), AssigneeID: &f.memberID}, work.Page{})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	ts, err = f.svc.Tasks(f.viewer, work.TaskFilter{ProjectID: p.ID, Status: ptr(work.TaskDone)}, work.Page{})
	require.NoError(t, err)
	require.NotNil(t, ts, "an empty page is [] in JSON, not null")
	require.Empty(t, ts)
	ts, err = f.svc.Tasks(f.viewer, work.TaskFilter{ProjectID: p.ID, AssigneeID: &f.viewerID}, work.Page{})
	require.NoError(t, err, "a member with no tasks is a valid filter")
	require.Empty(t, ts)

	w2, err := f.svc.UpdateWorkspace(f.member, w.ID, work.UpdateWorkspaceParams{Name: ptr("Eng")}, work.ETag(w))
	require.NoError(t, err)
	require.Equal(t, "Eng", w2.Name)
	require.Equal(t, "builds things", w2.Description, "fields not given are kept")
	require.NotEqual(t, work.ETag(w), work.ETag(w2))
	p2, err := f.svc.UpdateProject(f.member, p.ID, work.UpdateProjectParams{Description: ptr("the public API")}, "")
	require.NoError(t, err)
	require.Equal(t, "API", p2.Name)
	require.Equal(t, "the public API", p2.Description)
	t2, err := f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Title: ptr("Handler v2"), Status: ptr(work.TaskInProgress),
		AssigneeID: work.Null[coditect.AccountID](), DueAt: work.Null[time.Time]()}, "*")
	require.NoError(t, err)
	require.Equal(t, "Handler v2", t2.Title)
	require.Equal(t, work.TaskInProgress, t2.Status)
	require.Nil(t, t2.AssigneeID, "null unassigns")
	require.Nil(t, t2.DueAt, "null clears the due date")

	rows := auditRows(t, f, f.owner)
	require.Len(t, rows, 6)
	upd := changesOf(t, rows[5])
	require.Equal(t, "task.update", rows[5].Action)
	require.Equal(t, map[string]any{"title": "Handler v2", "previous_title": "Handler", "status": "in_progress", "previous_status": "todo",
		"assignee_id": nil, "previous_assignee_id": f.memberID.String(), "due_at": nil, "previous_due_at": "2031-03-04T05:06:07Z"}, upd)
	require.Equal(t, map[string]any{"name": "Eng", "previous_name": "Engineering"}, changesOf(t, rows[3]))

	require.NoError(t, f.svc.DeleteTask(f.member, tk.ID, work.ETag(t2)))
	_, err = f.svc.Task(f.viewer, tk.ID)
	requireCode(t, err, coditect.CodeNotFound)
	require.NoError(t, f.svc.DeleteProject(f.member, p.ID, ""))
	require.NoError(t, f.svc.DeleteWorkspace(f.member, w.ID, ""))
	_, err = f.svc.Workspace(f.viewer, w.ID)
	requireCode(t, err, coditect.CodeNotFound)
	ws, err = f.svc.Workspaces(f.viewer, work.Page{})
	require.NoError(t, err)
	require.Empty(t, ws)
}

func TestServiceOtherTenantSeesNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w, p, tk := tree(t, f)
	before := auditRows(t, f, f.owner)
	b := f.other
	name := "hijacked"

	// Every answer is the same as for an id that exists nowhere, so B learns nothing.
	for _, id := range []struct {
		w  coditect.WorkspaceID
		p  coditect.ProjectID
		tk coditect.TaskID
	}{{w.ID, p.ID, tk.ID}, {coditect.NewID[coditect.WorkspaceID](), coditect.NewID[coditect.ProjectID](), coditect.NewID[coditect.TaskID]()}} {
		_, err := f.svc.Workspace(b, id.w)
		requireCode(t, err, coditect.CodeNotFound)
		_, err = f.svc.UpdateWorkspace(b, id.w, work.UpdateWorkspaceParams{Name: &name}, "")
		requireCode(t, err, coditect.CodeNotFound)
		requireCode(t, f.svc.DeleteWorkspace(b, id.w, ""), coditect.CodeNotFound)
		_, err = f.svc.Project(b, id.p)
		requireCode(t, err, coditect.CodeNotFound)
		_, err = f.svc.UpdateProject(b, id.p, work.UpdateProjectParams{Name: &name}, "")
		requireCode(t, err, coditect.CodeNotFound)
		requireCode(t, f.svc.DeleteProject(b, id.p, ""), coditect.CodeNotFound)
		_, err = f.svc.Task(b, id.tk)
		requireCode(t, err, coditect.CodeNotFound)
		_, err = f.svc.UpdateTask(b, id.tk, work.UpdateTaskParams{Title: &name, Status: ptr(work.TaskDone)}, "")
		requireCode(t, err, coditect.CodeNotFound)
		requireCode(t, f.svc.DeleteTask(b, id.tk, ""), coditect.CodeNotFound)
		_, err = f.svc.Tasks(b, work.TaskFilter{ProjectID: id.p}, work.Page{})
		requireCode(t, err, coditect.CodeNotFound)
		_, err = f.svc.CreateTask(b, work.CreateTaskParams{ProjectID: id.p, Title: "sneaky"})
		requireCode(t, err, coditect.CodeNotFound)
		_, err = f.svc.CreateTask(b, work.CreateTaskParams{ProjectID: id.p, Title: "sneaky", AssigneeID: &f.outsiderID})
		requireCode(t, err, coditect.CodeNotFound)
		// A workspace named in a body or a filter is a field, not the resource: 422.
		_, err = f.svc.CreateProject(b, work.CreateProjectParams{WorkspaceID: id.w, Name: "sneaky"})
		requireFields(t, err, "workspace_id")
		_, err = f.svc.Projects(b, work.ProjectFilter{WorkspaceID: &id.w}, work.Page{})
		requireFields(t, err, "workspace_id")
	}
	ws, err := f.svc.Workspaces(b, work.Page{})
	require.NoError(t, err)
	require.Empty(t, ws)
	ps, err := f.svc.Projects(b, work.ProjectFilter{}, work.Page{})
	require.NoError(t, err)
	require.Empty(t, ps)

	// A's data is untouched, and B's failed attempts left no audit rows anywhere.
	gotW, err := f.svc.Workspace(f.owner, w.ID)
	require.NoError(t, err)
	require.Equal(t, w, gotW)
	gotP, err := f.svc.Project(f.owner, p.ID)
	require.NoError(t, err)
	require.Equal(t, p, gotP)
	gotT, err := f.svc.Task(f.owner, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk, gotT)
	require.Equal(t, before, auditRows(t, f, f.owner))
	require.Empty(t, auditRows(t, f, b))
}

func TestServiceRoles(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w, p, tk := tree(t, f)
	name := "x"

	// A viewer reads everything.
	_, err := f.svc.Workspace(f.viewer, w.ID)
	require.NoError(t, err)
	_, err = f.svc.Workspaces(f.viewer, work.Page{})
	require.NoError(t, err)
	_, err = f.svc.Project(f.viewer, p.ID)
	require.NoError(t, err)
	_, err = f.svc.Projects(f.viewer, work.ProjectFilter{}, work.Page{})
	require.NoError(t, err)
	_, err = f.svc.Task(f.viewer, tk.ID)
	require.NoError(t, err)
	_, err = f.svc.Tasks(f.viewer, work.TaskFilter{ProjectID: p.ID}, work.Page{})
	require.NoError(t, err)

	// A viewer writes nothing.
	_, err = f.svc.CreateWorkspace(f.viewer, work.CreateWorkspaceParams{Name: name})
	requireCode(t, err, coditect.CodeForbidden)
	_, err = f.svc.UpdateWorkspace(f.viewer, w.ID, work.UpdateWorkspaceParams{Name: &name}, "")
	requireCode(t, err, coditect.CodeForbidden)
	requireCode(t, f.svc.DeleteWorkspace(f.viewer, w.ID, ""), coditect.CodeForbidden)
	_, err = f.svc.CreateProject(f.viewer, work.CreateProjectParams{WorkspaceID: w.ID, Name: name})
	requireCode(t, err, coditect.CodeForbidden)
	_, err = f.svc.UpdateProject(f.viewer, p.ID, work.UpdateProjectParams{Name: &name}, "")
	requireCode(t, err, coditect.CodeForbidden)
	requireCode(t, f.svc.DeleteProject(f.viewer, p.ID, ""), coditect.CodeForbidden)
	_, err = f.svc.CreateTask(f.viewer, work.CreateTaskParams{ProjectID: p.ID, Title: name})
	requireCode(t, err, coditect.CodeForbidden)
	_, err = f.svc.UpdateTask(f.viewer, tk.ID, work.UpdateTaskParams{Title: &name}, "")
	requireCode(t, err, coditect.CodeForbidden)
	requireCode(t, f.svc.DeleteTask(f.viewer, tk.ID, ""), coditect.CodeForbidden)
	require.Len(t, auditRows(t, f, f.owner), 3, "the viewer's attempts wrote nothing")

	// A member writes everything.
	w2, err := f.svc.CreateWorkspace(f.member, work.CreateWorkspaceParams{Name: name})
	require.NoError(t, err)
	_, err = f.svc.UpdateWorkspace(f.member, w2.ID, work.UpdateWorkspaceParams{Name: ptr("y")}, "")
	require.NoError(t, err)
	p2, err := f.svc.CreateProject(f.member, work.CreateProjectParams{WorkspaceID: w2.ID, Name: name})
	require.NoError(t, err)
	_, err = f.svc.UpdateProject(f.member, p2.ID, work.UpdateProjectParams{Name: ptr("y")}, "")
	require.NoError(t, err)
	t2, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p2.ID, Title: name})
	require.NoError(t, err)
	_, err = f.svc.UpdateTask(f.member, t2.ID, work.UpdateTaskParams{Status: ptr(work.TaskDone)}, "")
	require.NoError(t, err)
	require.NoError(t, f.svc.DeleteTask(f.member, t2.ID, ""))
	require.NoError(t, f.svc.DeleteProject(f.member, p2.ID, ""))
	require.NoError(t, f.svc.DeleteWorkspace(f.member, w2.ID, ""))
	rows := auditRows(t, f, f.owner)
	require.Len(t, rows, 3+9)
	for _, e := range rows[3:] {
		require.Equal(t, coditect.ActorAccount, e.ActorType)
		require.NotNil(t, e.ActorID)
		require.Equal(t, f.memberID.Bytes(), *e.ActorID, "%s is attributed to the member", e.Action)
	}
}

func TestServiceInvalidFields(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w, p, tk := tree(t, f)
	long := make([]byte, work.MaxTitleLen+1)
	for i := range long {
		long[i] = 'x'
	}

	_, err := f.svc.CreateWorkspace(f.member, work.CreateWorkspaceParams{Name: " \t ", Description: "\x00"})
	requireFields(t, err, "name", "description")
	_, err = f.svc.UpdateWorkspace(f.member, w.ID, work.UpdateWorkspaceParams{Name: ptr("a\nb")}, "")
	requireFields(t, err, "name")
	_, err = f.svc.CreateProject(f.member, work.CreateProjectParams{Name: ""})
	requireFields(t, err, "workspace_id", "name")
	_, err = f.svc.UpdateProject(f.member, p.ID, work.UpdateProjectParams{Name: ptr(string(long[:work.MaxNameLen+1]))}, "")
	requireFields(t, err, "name")
	_, err = f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p.ID, Title: string(long), Status: "blocked",
		DueAt: ptr(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC))})
	requireFields(t, err, "title", "status", "due_at")
	_, err = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Title: ptr(""), Status: ptr(work.TaskStatus("DONE")),
		DueAt: work.SetTo(time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC))}, "")
	requireFields(t, err, "title", "status", "due_at")
	_, err = f.svc.Tasks(f.member, work.TaskFilter{ProjectID: p.ID, Status: ptr(work.TaskStatus("open"))}, work.Page{})
	requireFields(t, err, "status")

	// The limits themselves are fine, and the database agrees with them.
	_, err = f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p.ID, Title: string(long[:work.MaxTitleLen]),
		DueAt: ptr(time.Date(2100, 12, 31, 23, 59, 59, 0, time.UTC))})
	require.NoError(t, err)
	require.Len(t, auditRows(t, f, f.owner), 4, "only the valid create wrote")
}

func TestServiceTaskTransitions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, _, tk := tree(t, f)
	move := func(to work.TaskStatus) (work.Task, error) {
		return f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Status: &to}, "")
	}
	for _, to := range []work.TaskStatus{work.TaskInProgress, work.TaskDone, work.TaskTodo, work.TaskCanceled, work.TaskTodo,
		work.TaskDone, work.TaskInProgress, work.TaskCanceled} {
		got, err := move(to)
		require.NoError(t, err, "→ %s", to)
		require.Equal(t, to, got.Status)
	}
	n := len(auditRows(t, f, f.owner))

	// canceled → done and canceled → in_progress must go through todo.
	for _, to := range []work.TaskStatus{work.TaskDone, work.TaskInProgress} {
		_, err := move(to)
		requireCode(t, err, work.CodeInvalidTransition)
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		require.Contains(t, err.Error(), "from canceled to "+string(to))
	}
	_, err := move(work.TaskTodo)
	require.NoError(t, err)
	_, err = move(work.TaskDone)
	require.NoError(t, err)
	_, err = move(work.TaskCanceled)
	requireCode(t, err, work.CodeInvalidTransition)
	require.Len(t, auditRows(t, f, f.owner), n+2, "refused moves write nothing")

	// The same status is a no-op: no write, no audit row, same ETag.
	cur, err := f.svc.Task(f.member, tk.ID)
	require.NoError(t, err)
	same, err := move(work.TaskDone)
	require.NoError(t, err)
	require.Equal(t, cur, same)
	require.Equal(t, work.ETag(cur), work.ETag(same))
	require.Len(t, auditRows(t, f, f.owner), n+2)
	rows := auditRows(t, f, f.owner)
	require.Equal(t, map[string]any{"status": "done", "previous_status": "todo"}, changesOf(t, rows[len(rows)-1]))
}

func TestServiceIfMatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w, p, tk := tree(t, f)
	stale := work.ETag(tk)
	tk2, err := f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Title: ptr("renamed")}, stale)
	require.NoError(t, err, "the current ETag matches")
	n := len(auditRows(t, f, f.owner))

	_, err = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Title: ptr("lost update"), Status: ptr(work.TaskDone)}, stale)
	requireCode(t, err, coditect.CodePrecondition)
	requireCode(t, f.svc.DeleteTask(f.member, tk.ID, stale), coditect.CodePrecondition)
	_, err = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{}, `W/`+work.ETag(tk2))
	requireCode(t, err, coditect.CodePrecondition) // If-Match compares strongly
	got, err := f.svc.Task(f.member, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk2, got, "a failed precondition changes nothing")

	staleW, staleP := work.ETag(w), work.ETag(p)
	w2, err := f.svc.UpdateWorkspace(f.member, w.ID, work.UpdateWorkspaceParams{Description: ptr("d")}, "")
	require.NoError(t, err)
	p2, err := f.svc.UpdateProject(f.member, p.ID, work.UpdateProjectParams{Description: ptr("d")}, "")
	require.NoError(t, err)
	_, err = f.svc.UpdateWorkspace(f.member, w.ID, work.UpdateWorkspaceParams{Name: ptr("lost")}, staleW)
	requireCode(t, err, coditect.CodePrecondition)
	requireCode(t, f.svc.DeleteWorkspace(f.member, w.ID, staleW), coditect.CodePrecondition)
	_, err = f.svc.UpdateProject(f.member, p.ID, work.UpdateProjectParams{Name: ptr("lost")}, staleP)
	requireCode(t, err, coditect.CodePrecondition)
	requireCode(t, f.svc.DeleteProject(f.member, p.ID, staleP), coditect.CodePrecondition)
	gotW, err := f.svc.Workspace(f.member, w.ID)
	require.NoError(t, err)
	require.Equal(t, w2, gotW)
	gotP, err := f.svc.Project(f.member, p.ID)
	require.NoError(t, err)
	require.Equal(t, p2, gotP)
	_, err = f.svc.Task(f.member, tk.ID)
	require.NoError(t, err, "the refused workspace delete cascaded nothing")
	require.Len(t, auditRows(t, f, f.owner), n+2, "only the two unconditional updates wrote")

	// Writers whose ETag goes stale while they wait: the check runs on the row as it
	// is once locked inside their transaction, not on what they read before waiting.
	// A transaction changes the task and holds its lock until the writers are all
	// waiting for it; when it commits, every writer must fail, none may overwrite.
	cur := work.ETag(tk2)
	locked, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- f.store.InTx(f.owner, func(tx *postgres.Tx) error {
			t, err := tx.TaskGetForUpdate(f.owner, tk.ID)
			if err != nil {
				return err
			}
			t.Title = "held"
			if _, err := tx.TaskUpdate(f.owner, t); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	const writers = 4
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Title: ptr("writer " + string(rune('A'+i)))}, cur)
		}()
	}
	waitForLockWaiters(t, f, writers)
	close(release)
	require.NoError(t, <-held)
	wg.Wait()
	for _, err := range errs {
		requireCode(t, err, coditect.CodePrecondition)
	}
	got, err = f.svc.Task(f.member, tk.ID)
	require.NoError(t, err)
	require.Equal(t, "held", got.Title)
	require.Len(t, auditRows(t, f, f.owner), n+2)
}

// waitForLockWaiters waits until n sessions of the test database wait for a lock.
func waitForLockWaiters(t *testing.T, f fixture, n int) {
	t.Helper()
	pool := postgrestest.Pool(t, f.db.AdminURL)
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		err := pool.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		require.NoError(t, err)
		if waiting >= n {
			return
		}
		require.Less(t, time.Since(start), time.Minute, "%d of %d writers are waiting for the lock", waiting, n)
	}
}

func TestServiceAssignee(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, p, tk := tree(t, f)

	_, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p.ID, Title: "t", AssigneeID: &f.outsiderID})
	requireFields(t, err, "assignee_id")
	require.Equal(t, "must be a member of this organization", err.(*coditect.Error).Fields[0].Message)
	nobody := coditect.NewID[coditect.AccountID]()
	_, err = f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p.ID, Title: "t", AssigneeID: &nobody})
	requireFields(t, err, "assignee_id")
	_, err = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{AssigneeID: work.SetTo(f.outsiderID)}, "")
	requireFields(t, err, "assignee_id")
	_, err = f.svc.Tasks(f.member, work.TaskFilter{ProjectID: p.ID, AssigneeID: &f.outsiderID}, work.Page{})
	requireFields(t, err, "assignee_id")
	// A missing project is reported as such even when the assignee is fine.
	_, err = f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: coditect.NewID[coditect.ProjectID](), Title: "t", AssigneeID: &f.viewerID})
	requireCode(t, err, coditect.CodeNotFound)

	got, err := f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{AssigneeID: work.SetTo(f.viewerID)}, "")
	require.NoError(t, err, "any member, even a viewer, can be assigned")
	require.Equal(t, &f.viewerID, got.AssigneeID)
	list, err := f.svc.Tasks(f.member, work.TaskFilter{ProjectID: p.ID, AssigneeID: &f.viewerID}, work.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	got, err = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{AssigneeID: work.Null[coditect.AccountID]()}, "")
	require.NoError(t, err)
	require.Nil(t, got.AssigneeID)
	require.Len(t, auditRows(t, f, f.owner), 3+2, "only the two good updates wrote")
}

func TestServiceDeleteCascades(t *testing.T) {
	t.Parallel()
	f := setup(t)
	require.True(t, work.DeleteCascades)
	w, p1, t1 := tree(t, f)
	t2, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p1.ID, Title: "two"})
	require.NoError(t, err)
	p2, err := f.svc.CreateProject(f.member, work.CreateProjectParams{WorkspaceID: w.ID, Name: "Web"})
	require.NoError(t, err)
	t3, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p2.ID, Title: "three"})
	require.NoError(t, err)
	p3, err := f.svc.CreateProject(f.member, work.CreateProjectParams{WorkspaceID: w.ID, Name: "Empty"})
	require.NoError(t, err)
	keepW, keepP, keepT := tree(t, f) // another workspace, untouched by the deletes

	require.NoError(t, f.svc.DeleteProject(f.member, p2.ID, ""))
	_, err = f.svc.Task(f.member, t3.ID)
	requireCode(t, err, coditect.CodeNotFound)
	_, err = f.svc.Tasks(f.member, work.TaskFilter{ProjectID: p2.ID}, work.Page{})
	requireCode(t, err, coditect.CodeNotFound)
	rows := auditRows(t, f, f.owner)
	last := rows[len(rows)-1]
	require.Equal(t, "project.delete", last.Action)
	require.Equal(t, "project", last.TargetType)
	require.Equal(t, p2.ID.String(), last.TargetID)
	require.Equal(t, map[string]any{"name": "Web", "workspace_id": w.ID.String(), "tasks_deleted": float64(1)}, changesOf(t, last))

	require.NoError(t, f.svc.DeleteWorkspace(f.member, w.ID, ""))
	rows = auditRows(t, f, f.owner)
	last = rows[len(rows)-1]
	require.Equal(t, "workspace.delete", last.Action)
	require.Equal(t, w.ID.String(), last.TargetID)
	require.Equal(t, map[string]any{"name": "Engineering", "projects_deleted": float64(2), "tasks_deleted": float64(2)}, changesOf(t, last))
	for _, id := range []coditect.ProjectID{p1.ID, p3.ID} {
		_, err = f.svc.Project(f.member, id)
		requireCode(t, err, coditect.CodeNotFound)
	}
	for _, id := range []coditect.TaskID{t1.ID, t2.ID} {
		_, err = f.svc.Task(f.member, id)
		requireCode(t, err, coditect.CodeNotFound)
	}
	_, err = f.svc.Projects(f.member, work.ProjectFilter{WorkspaceID: &w.ID}, work.Page{})
	requireFields(t, err, "workspace_id")

	_, err = f.svc.Workspace(f.member, keepW.ID)
	require.NoError(t, err)
	_, err = f.svc.Project(f.member, keepP.ID)
	require.NoError(t, err)
	_, err = f.svc.Task(f.member, keepT.ID)
	require.NoError(t, err)
	ps, err := f.svc.Projects(f.member, work.ProjectFilter{}, work.Page{})
	require.NoError(t, err)
	require.Equal(t, []work.Project{keepP}, ps)

	tk, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: keepP.ID, Title: "x"})
	require.NoError(t, err)
	require.NoError(t, f.svc.DeleteTask(f.member, tk.ID, ""))
	rows = auditRows(t, f, f.owner)
	last = rows[len(rows)-1]
	require.Equal(t, map[string]any{"title": "x", "project_id": keepP.ID.String(), "status": "todo"}, changesOf(t, last))
}

func TestServiceOneAuditRowPerMutation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	due := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	w, err := f.svc.CreateWorkspace(f.member, work.CreateWorkspaceParams{Name: "W", Description: "d"})
	require.NoError(t, err)
	p, err := f.svc.CreateProject(f.member, work.CreateProjectParams{WorkspaceID: w.ID, Name: "P"})
	require.NoError(t, err)
	tk, err := f.svc.CreateTask(f.member, work.CreateTaskParams{ProjectID: p.ID, Title: "T", Status: work.TaskInProgress, AssigneeID: &f.memberID, DueAt: &due})
	require.NoError(t, err)
	_, err = f.svc.UpdateWorkspace(f.member, w.ID, work.UpdateWorkspaceParams{Name: ptr("W2"), Description: ptr("d")}, "")
	require.NoError(t, err)
	_, err = f.svc.UpdateWorkspace(f.member, w.ID, work.UpdateWorkspaceParams{Name: ptr("W2")}, "")
	require.NoError(t, err) // changes nothing: no audit row
	_, err = f.svc.UpdateProject(f.member, p.ID, work.UpdateProjectParams{Name: ptr("P2")}, "")
	require.NoError(t, err)
	_, err = f.svc.UpdateTask(f.member, tk.ID, work.UpdateTaskParams{Status: ptr(work.TaskDone)}, "")
	require.NoError(t, err)
	require.NoError(t, f.svc.DeleteTask(f.member, tk.ID, ""))
	require.NoError(t, f.svc.DeleteProject(f.member, p.ID, ""))
	require.NoError(t, f.svc.DeleteWorkspace(f.member, w.ID, ""))

	rows := auditRows(t, f, f.owner)
	type row struct{ action, targetType, targetID string }
	var got []row
	for _, e := range rows {
		got = append(got, row{e.Action, e.TargetType, e.TargetID})
		require.Equal(t, coditect.ActorAccount, e.ActorType)
		require.Equal(t, f.memberID.Bytes(), *e.ActorID)
		require.NotNil(t, e.IP)
		require.Equal(t, clientIP, *e.IP)
		require.Equal(t, userAgent, e.UserAgent)
	}
	require.Equal(t, []row{
		{"workspace.create", "workspace", w.ID.String()},
		{"project.create", "project", p.ID.String()},
		{"task.create", "task", tk.ID.String()},
		{"workspace.update", "workspace", w.ID.String()},
		{"project.update", "project", p.ID.String()},
		{"task.update", "task", tk.ID.String()},
		{"task.delete", "task", tk.ID.String()},
		{"project.delete", "project", p.ID.String()},
		{"workspace.delete", "workspace", w.ID.String()},
	}, got)
	require.Equal(t, map[string]any{"name": "W", "description": "d"}, changesOf(t, rows[0]))
	require.Equal(t, map[string]any{"workspace_id": w.ID.String(), "name": "P", "description": ""}, changesOf(t, rows[1]))
	require.Equal(t, map[string]any{"project_id": p.ID.String(), "title": "T", "description": "", "status": "in_progress",
		"assignee_id": f.memberID.String(), "due_at": "2030-01-02T03:04:05Z"}, changesOf(t, rows[2]))
	require.Equal(t, map[string]any{"name": "W2", "previous_name": "W"}, changesOf(t, rows[3]), "only changed fields")
	require.Equal(t, map[string]any{"name": "P2", "workspace_id": w.ID.String(), "tasks_deleted": float64(0)}, changesOf(t, rows[7]))
	require.Equal(t, map[string]any{"name": "W2", "projects_deleted": float64(0), "tasks_deleted": float64(0)}, changesOf(t, rows[8]))
}
