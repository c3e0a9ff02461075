package work

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// untouchable is a store that fails the test when used: the checks tested here
// (roles, input) must all happen before any data is read or written. The behaviour
// with data is tested against PostgreSQL in service_db_test.go.
type untouchable struct {
	Reader // nil: any read panics
	t      *testing.T
}

func (u untouchable) InTenantTx(context.Context, func(Tx) error) error {
	u.t.Error("the store was reached")
	return nil
}

func newUntouchable(t *testing.T) *Service {
	u := untouchable{t: t}
	return NewService(u, u)
}

func as(role coditect.Role) context.Context {
	return coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount,
		AccountID: coditect.NewID[coditect.AccountID](), Tenant: coditect.NewID[coditect.TenantID](), Role: role})
}

// reads and writes run every reading or writing method of the service once with
// valid input, naming each.
func reads(s *Service, ctx context.Context) map[string]error {
	errs := map[string]error{}
	_, errs["Workspace"] = s.Workspace(ctx, coditect.NewID[coditect.WorkspaceID]())
	_, errs["Workspaces"] = s.Workspaces(ctx, Page{})
	_, errs["Project"] = s.Project(ctx, coditect.NewID[coditect.ProjectID]())
	_, errs["Projects"] = s.Projects(ctx, ProjectFilter{}, Page{})
	_, errs["Task"] = s.Task(ctx, coditect.NewID[coditect.TaskID]())
	_, errs["Tasks"] = s.Tasks(ctx, TaskFilter{ProjectID: coditect.NewID[coditect.ProjectID]()}, Page{})
	return errs
}

func writes(s *Service, ctx context.Context) map[string]error {
	ws, pr, tk := coditect.NewID[coditect.WorkspaceID](), coditect.NewID[coditect.ProjectID](), coditect.NewID[coditect.TaskID]()
	name := "x"
	errs := map[string]error{}
	_, errs["CreateWorkspace"] = s.CreateWorkspace(ctx, CreateWorkspaceParams{Name: name})
	_, errs["UpdateWorkspace"] = s.UpdateWorkspace(ctx, ws, UpdateWorkspaceParams{Name: &name}, "")
	errs["DeleteWorkspace"] = s.DeleteWorkspace(ctx, ws, "")
	_, errs["CreateProject"] = s.CreateProject(ctx, CreateProjectParams{WorkspaceID: ws, Name: name})
	_, errs["UpdateProject"] = s.UpdateProject(ctx, pr, UpdateProjectParams{Name: &name}, "")
	errs["DeleteProject"] = s.DeleteProject(ctx, pr, "")
	_, errs["CreateTask"] = s.CreateTask(ctx, CreateTaskParams{ProjectID: pr, Title: name})
	_, errs["UpdateTask"] = s.UpdateTask(ctx, tk, UpdateTaskParams{Title: &name}, "")
	errs["DeleteTask"] = s.DeleteTask(ctx, tk, "")
	return errs
}

func TestServiceAuthorizesFirst(t *testing.T) {
	t.Parallel()
	s := newUntouchable(t)
	viewer := writes(s, as(coditect.RoleViewer))
	require.Len(t, viewer, 9)
	for name, err := range viewer {
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err), "%s as viewer", name)
	}
	noActor, unknownRole := context.Background(), coditect.WithActor(context.Background(),
		coditect.Actor{Kind: coditect.ActorAccount, Tenant: coditect.NewID[coditect.TenantID](), Role: "superuser"})
	for _, errs := range []map[string]error{reads(s, noActor), writes(s, noActor)} {
		for name, err := range errs {
			require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err), "%s without an actor fails closed", name)
		}
	}
	for _, errs := range []map[string]error{reads(s, unknownRole), writes(s, unknownRole)} {
		for name, err := range errs {
			require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err), "%s with an unknown role", name)
		}
	}
}

func TestServiceValidatesBeforeTheStore(t *testing.T) {
	t.Parallel()
	s := newUntouchable(t)
	ctx := as(coditect.RoleMember)
	long := string(make([]byte, MaxNameLen+1))
	bad := TaskStatus("blocked")
	zero := coditect.AccountID{}

	_, err := s.CreateWorkspace(ctx, CreateWorkspaceParams{Name: " "})
	require.Equal(t, []string{"name"}, fieldsOf(t, err))
	_, err = s.UpdateWorkspace(ctx, coditect.NewID[coditect.WorkspaceID](), UpdateWorkspaceParams{Name: &long}, "")
	require.Equal(t, []string{"name"}, fieldsOf(t, err))
	_, err = s.CreateProject(ctx, CreateProjectParams{Name: "p"})
	require.Equal(t, []string{"workspace_id"}, fieldsOf(t, err))
	_, err = s.UpdateProject(ctx, coditect.NewID[coditect.ProjectID](), UpdateProjectParams{Description: ptr("\x00")}, "")
	require.Equal(t, []string{"description"}, fieldsOf(t, err))
	_, err = s.CreateTask(ctx, CreateTaskParams{ProjectID: coditect.NewID[coditect.ProjectID](), Title: "t", Status: bad,
		DueAt: ptr(time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC))})
	require.ElementsMatch(t, []string{"status", "due_at"}, fieldsOf(t, err))
	_, err = s.UpdateTask(ctx, coditect.NewID[coditect.TaskID](), UpdateTaskParams{Status: &bad, AssigneeID: SetTo(zero)}, "")
	require.ElementsMatch(t, []string{"status", "assignee_id"}, fieldsOf(t, err))
	_, err = s.Tasks(ctx, TaskFilter{ProjectID: coditect.NewID[coditect.ProjectID](), Status: &bad}, Page{})
	require.Equal(t, []string{"status"}, fieldsOf(t, err))
	_, err = s.Projects(ctx, ProjectFilter{WorkspaceID: &coditect.WorkspaceID{}}, Page{})
	require.Equal(t, []string{"workspace_id"}, fieldsOf(t, err))

	// The nil UUID as the resource itself names nothing: not found, without a query.
	_, err = s.Workspace(ctx, coditect.WorkspaceID{})
	require.True(t, coditect.IsNotFound(err))
	_, err = s.Task(ctx, coditect.TaskID{})
	require.True(t, coditect.IsNotFound(err))
	require.True(t, coditect.IsNotFound(s.DeleteProject(ctx, coditect.ProjectID{}, "")))
	_, err = s.Tasks(ctx, TaskFilter{}, Page{})
	require.True(t, coditect.IsNotFound(err))
}
