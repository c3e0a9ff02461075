package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
	"github.com/coditect/coditect/internal/work"
)

// maxPage bounds every list so no request can ask for an unbounded read.
const maxPage = 200

// pageLimit applies the API's list bounds: default 50, at most maxPage.
func pageLimit(n int) int32 {
	switch {
	case n <= 0:
		return 50
	case n > maxPage:
		return maxPage
	}
	return int32(n)
}

func workspaceOut(r dbsqlc.Workspace) work.Workspace {
	return work.Workspace{ID: coditect.WorkspaceID(r.ID), Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func projectOut(r dbsqlc.Project) work.Project {
	return work.Project{ID: coditect.ProjectID(r.ID), WorkspaceID: coditect.WorkspaceID(r.WorkspaceID), Name: r.Name,
		Description: r.Description, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func taskOut(r dbsqlc.Task) work.Task {
	t := work.Task{ID: coditect.TaskID(r.ID), ProjectID: coditect.ProjectID(r.ProjectID), Title: r.Title, Description: r.Description,
		Status: work.TaskStatus(r.Status), DueAt: r.DueAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.AssigneeID != nil {
		a := coditect.AccountID(*r.AssigneeID)
		t.AssigneeID = &a
	}
	return t
}

// WorkspaceGet returns one workspace of the context's tenant.
func (s *Store) WorkspaceGet(ctx context.Context, id coditect.WorkspaceID) (work.Workspace, error) {
	var out work.Workspace
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.WorkspaceGet(ctx, dbsqlc.WorkspaceGetParams{TenantID: tenant, ID: uid(id)})
		out = workspaceOut(r)
		return err
	})
	return out, dbError(err, "workspace")
}

// WorkspaceList returns a page of the context tenant's workspaces, oldest first.
func (s *Store) WorkspaceList(ctx context.Context, p work.Page) ([]work.Workspace, error) {
	var out []work.Workspace
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.WorkspaceList(ctx, dbsqlc.WorkspaceListParams{TenantID: tenant, Limit: pageLimit(p.Limit),
			AfterCreatedAt: p.CreatedAt, AfterID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, workspaceOut(r))
		}
		return err
	})
	return out, dbError(err, "workspace")
}

// WorkspaceCreate inserts w (its ID set by the caller).
func (tx *Tx) WorkspaceCreate(ctx context.Context, w work.Workspace) (work.Workspace, error) {
	r, err := tx.q.WorkspaceCreate(ctx, dbsqlc.WorkspaceCreateParams{TenantID: tenantUID(tx.tenant), ID: uid(w.ID), Name: w.Name, Description: w.Description})
	return workspaceOut(r), dbError(err, "workspace")
}

// WorkspaceUpdate replaces w's name and description.
func (tx *Tx) WorkspaceUpdate(ctx context.Context, w work.Workspace) (work.Workspace, error) {
	r, err := tx.q.WorkspaceUpdate(ctx, dbsqlc.WorkspaceUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(w.ID), Name: w.Name, Description: w.Description})
	return workspaceOut(r), dbError(err, "workspace")
}

// WorkspaceDelete deletes a workspace with its projects and tasks.
func (tx *Tx) WorkspaceDelete(ctx context.Context, id coditect.WorkspaceID) error {
	n, err := tx.q.WorkspaceDelete(ctx, dbsqlc.WorkspaceDeleteParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return deleted(n, err, "workspace")
}

// ProjectGet returns one project of the context's tenant.
func (s *Store) ProjectGet(ctx context.Context, id coditect.ProjectID) (work.Project, error) {
	var out work.Project
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.ProjectGet(ctx, dbsqlc.ProjectGetParams{TenantID: tenant, ID: uid(id)})
		out = projectOut(r)
		return err
	})
	return out, dbError(err, "project")
}

// ProjectList returns a page of the context tenant's projects, oldest first.
func (s *Store) ProjectList(ctx context.Context, f work.ProjectFilter, p work.Page) ([]work.Project, error) {
	var out []work.Project
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.ProjectList(ctx, dbsqlc.ProjectListParams{TenantID: tenant, Limit: pageLimit(p.Limit),
			WorkspaceID: optUID(f.WorkspaceID), AfterCreatedAt: p.CreatedAt, AfterID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, projectOut(r))
		}
		return err
	})
	return out, dbError(err, "project")
}

// ProjectCreate inserts p; its workspace must be in the same tenant (else not found).
func (tx *Tx) ProjectCreate(ctx context.Context, p work.Project) (work.Project, error) {
	r, err := tx.q.ProjectCreate(ctx, dbsqlc.ProjectCreateParams{TenantID: tenantUID(tx.tenant), ID: uid(p.ID),
		WorkspaceID: uid(p.WorkspaceID), Name: p.Name, Description: p.Description})
	return projectOut(r), dbError(err, "project")
}

// ProjectUpdate replaces p's name and description.
func (tx *Tx) ProjectUpdate(ctx context.Context, p work.Project) (work.Project, error) {
	r, err := tx.q.ProjectUpdate(ctx, dbsqlc.ProjectUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(p.ID), Name: p.Name, Description: p.Description})
	return projectOut(r), dbError(err, "project")
}

// ProjectDelete deletes a project with its tasks.
func (tx *Tx) ProjectDelete(ctx context.Context, id coditect.ProjectID) error {
	n, err := tx.q.ProjectDelete(ctx, dbsqlc.ProjectDeleteParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return deleted(n, err, "project")
}

// TaskGet returns one task of the context's tenant.
func (s *Store) TaskGet(ctx context.Context, id coditect.TaskID) (work.Task, error) {
	var out work.Task
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.TaskGet(ctx, dbsqlc.TaskGetParams{TenantID: tenant, ID: uid(id)})
		out = taskOut(r)
		return err
	})
	return out, dbError(err, "task")
}

// TaskList returns a page of a project's tasks, oldest first.
func (s *Store) TaskList(ctx context.Context, f work.TaskFilter, p work.Page) ([]work.Task, error) {
	var out []work.Task
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		var status *string
		if f.Status != nil {
			st := string(*f.Status)
			status = &st
		}
		rows, err := q.TaskList(ctx, dbsqlc.TaskListParams{TenantID: tenant, ProjectID: uid(f.ProjectID), Limit: pageLimit(p.Limit),
			Status: status, AssigneeID: optUID(f.AssigneeID), AfterCreatedAt: p.CreatedAt, AfterID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, taskOut(r))
		}
		return err
	})
	return out, dbError(err, "task")
}

// TaskCreate inserts t; its project (and assignee, a member) must be in the same tenant.
func (tx *Tx) TaskCreate(ctx context.Context, t work.Task) (work.Task, error) {
	r, err := tx.q.TaskCreate(ctx, dbsqlc.TaskCreateParams{TenantID: tenantUID(tx.tenant), ID: uid(t.ID), ProjectID: uid(t.ProjectID),
		Title: t.Title, Description: t.Description, Status: string(t.Status), AssigneeID: optUID(t.AssigneeID), DueAt: t.DueAt})
	return taskOut(r), dbError(err, "task")
}

// TaskUpdate replaces t's editable fields.
func (tx *Tx) TaskUpdate(ctx context.Context, t work.Task) (work.Task, error) {
	r, err := tx.q.TaskUpdate(ctx, dbsqlc.TaskUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(t.ID), Title: t.Title,
		Description: t.Description, Status: string(t.Status), AssigneeID: optUID(t.AssigneeID), DueAt: t.DueAt})
	return taskOut(r), dbError(err, "task")
}

// TaskDelete deletes a task.
func (tx *Tx) TaskDelete(ctx context.Context, id coditect.TaskID) error {
	n, err := tx.q.TaskDelete(ctx, dbsqlc.TaskDeleteParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return deleted(n, err, "task")
}

func deleted(n int64, err error, what string) error {
	if err != nil {
		return dbError(err, what)
	}
	if n == 0 {
		return &coditect.Error{Code: coditect.CodeNotFound, Message: what + " not found"}
	}
	return nil
}
