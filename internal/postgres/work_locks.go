package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
	"github.com/coditect/coditect/internal/work"
)

// WorkspaceGetForUpdate reads a workspace and locks it until the transaction ends.
func (tx *Tx) WorkspaceGetForUpdate(ctx context.Context, id coditect.WorkspaceID) (work.Workspace, error) {
	r, err := tx.q.WorkspaceGetForUpdate(ctx, dbsqlc.WorkspaceGetForUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return workspaceOut(r), dbError(err, "workspace")
}

// ProjectGetForUpdate reads a project and locks it until the transaction ends.
func (tx *Tx) ProjectGetForUpdate(ctx context.Context, id coditect.ProjectID) (work.Project, error) {
	r, err := tx.q.ProjectGetForUpdate(ctx, dbsqlc.ProjectGetForUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return projectOut(r), dbError(err, "project")
}

// TaskGetForUpdate reads a task and locks it until the transaction ends.
func (tx *Tx) TaskGetForUpdate(ctx context.Context, id coditect.TaskID) (work.Task, error) {
	r, err := tx.q.TaskGetForUpdate(ctx, dbsqlc.TaskGetForUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return taskOut(r), dbError(err, "task")
}

// ProjectCountInWorkspace counts a workspace's projects and locks them until the
// transaction ends, so no task can be added to them meanwhile.
func (tx *Tx) ProjectCountInWorkspace(ctx context.Context, id coditect.WorkspaceID) (int, error) {
	ids, err := tx.q.ProjectIDsInWorkspaceForUpdate(ctx, dbsqlc.ProjectIDsInWorkspaceForUpdateParams{TenantID: tenantUID(tx.tenant), WorkspaceID: uid(id)})
	return len(ids), dbError(err, "project")
}

// TaskCountInProject counts a project's tasks.
func (tx *Tx) TaskCountInProject(ctx context.Context, id coditect.ProjectID) (int, error) {
	n, err := tx.q.TaskCountInProject(ctx, dbsqlc.TaskCountInProjectParams{TenantID: tenantUID(tx.tenant), ProjectID: uid(id)})
	return int(n), dbError(err, "task")
}

// TaskCountInWorkspace counts the tasks of all of a workspace's projects.
func (tx *Tx) TaskCountInWorkspace(ctx context.Context, id coditect.WorkspaceID) (int, error) {
	n, err := tx.q.TaskCountInWorkspace(ctx, dbsqlc.TaskCountInWorkspaceParams{TenantID: tenantUID(tx.tenant), WorkspaceID: uid(id)})
	return int(n), dbError(err, "task")
}
