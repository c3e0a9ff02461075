package work

import (
	"context"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// Reader is what work reads, each in the context's tenant and in one round trip.
// Unknown ids, and ids of another tenant, are not found.
type Reader interface {
	WorkspaceGet(ctx context.Context, id coditect.WorkspaceID) (Workspace, error)
	WorkspaceList(ctx context.Context, p Page) ([]Workspace, error)
	ProjectGet(ctx context.Context, id coditect.ProjectID) (Project, error)
	ProjectList(ctx context.Context, f ProjectFilter, p Page) ([]Project, error)
	TaskGet(ctx context.Context, id coditect.TaskID) (Task, error)
	TaskList(ctx context.Context, f TaskFilter, p Page) ([]Task, error)
	// IsMember reports whether the account is a member of the context's tenant.
	IsMember(ctx context.Context, id coditect.AccountID) (bool, error)
}

// TxStore runs fn in one transaction scoped to the context's tenant: the change, its
// audit row and any jobs commit or roll back together.
type TxStore interface {
	InTenantTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is everything work changes inside one tenant-scoped transaction. Unknown ids, and
// ids of another tenant, are not found; so is a create or update whose referenced row
// (a project's workspace, a task's project or assignee) is not in the tenant.
type Tx interface {
	// WorkspaceGetForUpdate reads a workspace and locks it until the transaction ends.
	WorkspaceGetForUpdate(ctx context.Context, id coditect.WorkspaceID) (Workspace, error)
	WorkspaceCreate(ctx context.Context, w Workspace) (Workspace, error)
	WorkspaceUpdate(ctx context.Context, w Workspace) (Workspace, error)
	// WorkspaceDelete deletes a workspace; the schema cascades to its projects and tasks.
	WorkspaceDelete(ctx context.Context, id coditect.WorkspaceID) error

	// ProjectGetForUpdate reads a project and locks it until the transaction ends.
	ProjectGetForUpdate(ctx context.Context, id coditect.ProjectID) (Project, error)
	// ProjectCount counts the tenant's projects (for the plan's limit).
	ProjectCount(ctx context.Context) (int64, error)
	// ProjectCountInWorkspace counts (and locks) the projects of a workspace.
	ProjectCountInWorkspace(ctx context.Context, id coditect.WorkspaceID) (int, error)
	ProjectCreate(ctx context.Context, p Project) (Project, error)
	ProjectUpdate(ctx context.Context, p Project) (Project, error)
	// ProjectDelete deletes a project; the schema cascades to its tasks.
	ProjectDelete(ctx context.Context, id coditect.ProjectID) error

	// TaskGetForUpdate reads a task and locks it until the transaction ends.
	TaskGetForUpdate(ctx context.Context, id coditect.TaskID) (Task, error)
	// TaskCountInProject counts the tasks of a project.
	TaskCountInProject(ctx context.Context, id coditect.ProjectID) (int, error)
	// TaskCountInWorkspace counts the tasks of all projects of a workspace.
	TaskCountInWorkspace(ctx context.Context, id coditect.WorkspaceID) (int, error)
	TaskCreate(ctx context.Context, t Task) (Task, error)
	TaskUpdate(ctx context.Context, t Task) (Task, error)
	TaskDelete(ctx context.Context, id coditect.TaskID) error

	AuditLogInsert(ctx context.Context, e audit.Entry) error
}
