package work

import (
	"context"
	"time"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// DeleteCascades is the deletion rule, stated once: deleting a workspace deletes its
// projects and their tasks, and deleting a project deletes its tasks (the schema's
// foreign keys cascade, so no orphan can remain and no delete is refused for having
// children). The delete's audit row records what went with it: "projects_deleted" and
// "tasks_deleted" for a workspace, "tasks_deleted" for a project, counted inside the
// delete's transaction with the parent (and a workspace's projects) locked, so the
// counts are exact even while others add children.
const DeleteCascades = true

// Service is the business rules of workspaces, projects and tasks.
type Service struct {
	store  TxStore
	reader Reader
	quotas Quotas // nil: no plan limits
}

// Quotas tells the limits of the context tenant's plan (billing.Service).
type Quotas interface {
	Quota(ctx context.Context, q coditect.Quota) (coditect.Limit, error)
}

// NewService returns a Service that changes data through store and reads through reader.
func NewService(store TxStore, reader Reader) *Service {
	return &Service{store: store, reader: reader}
}

// WithQuotas returns a copy of s that enforces the plan's project limit.
func (s *Service) WithQuotas(q Quotas) *Service {
	c := *s
	c.quotas = q
	return &c
}

// projectLimit is the tenant's project limit (unlimited without quotas).
func (s *Service) projectLimit(ctx context.Context) (coditect.Limit, error) {
	if s.quotas == nil {
		return coditect.Limit{Max: -1}, nil
	}
	return s.quotas.Quota(ctx, coditect.QuotaProjects)
}

func authorize(ctx context.Context, act coditect.Action) error {
	a, _ := coditect.ActorFrom(ctx)
	return coditect.Authorize(a, act)
}

func notFound(what string) error {
	return &coditect.Error{Code: coditect.CodeNotFound, Message: what + " not found"}
}

// auditRow writes the one audit row of a change, in its transaction.
func auditRow(ctx context.Context, tx Tx, action, targetType, targetID string, ch map[string]any) error {
	e, err := audit.NewEntry(ctx, action, targetType, targetID, ch)
	if err != nil {
		return err
	}
	return tx.AuditLogInsert(ctx, e)
}

// changes collects what an update changes, for its audit row: each changed field with
// its new value, and "previous_<field>" with its old one.
type changes map[string]any

func (c changes) set(field string, to, from any) {
	c[field] = to
	c["previous_"+field] = from
}

// ---- workspaces -------------------------------------------------------------------

// CreateWorkspace makes a workspace.
func (s *Service) CreateWorkspace(ctx context.Context, p CreateWorkspaceParams) (Workspace, error) {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return Workspace{}, err
	}
	p, err := p.validate()
	if err != nil {
		return Workspace{}, err
	}
	var out Workspace
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		w, err := tx.WorkspaceCreate(ctx, Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: p.Name, Description: p.Description})
		if err != nil {
			return err
		}
		out = w
		return auditRow(ctx, tx, "workspace.create", "workspace", w.ID.String(), changes{"name": w.Name, "description": w.Description})
	})
	if err != nil {
		return Workspace{}, err
	}
	return out, nil
}

// Workspace returns one workspace.
func (s *Service) Workspace(ctx context.Context, id coditect.WorkspaceID) (Workspace, error) {
	if err := authorize(ctx, coditect.ActReadWork); err != nil {
		return Workspace{}, err
	}
	if id.IsZero() {
		return Workspace{}, notFound("workspace")
	}
	return s.reader.WorkspaceGet(ctx, id)
}

// Workspaces returns a page of workspaces, oldest first.
func (s *Service) Workspaces(ctx context.Context, p Page) ([]Workspace, error) {
	if err := authorize(ctx, coditect.ActReadWork); err != nil {
		return nil, err
	}
	list, err := s.reader.WorkspaceList(ctx, p)
	if err != nil {
		return nil, err
	}
	return nonNil(list), nil
}

// UpdateWorkspace changes a workspace's name and/or description. A non-empty ifMatch
// must match the workspace's current ETag.
func (s *Service) UpdateWorkspace(ctx context.Context, id coditect.WorkspaceID, p UpdateWorkspaceParams, ifMatch string) (Workspace, error) {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return Workspace{}, err
	}
	p, err := p.validate()
	if err != nil {
		return Workspace{}, err
	}
	if id.IsZero() {
		return Workspace{}, notFound("workspace")
	}
	var out Workspace
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.WorkspaceGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, ETag(cur)); err != nil {
			return err
		}
		next, ch := cur, changes{}
		if p.Name != nil && *p.Name != cur.Name {
			next.Name = *p.Name
			ch.set("name", next.Name, cur.Name)
		}
		if p.Description != nil && *p.Description != cur.Description {
			next.Description = *p.Description
			ch.set("description", next.Description, cur.Description)
		}
		if len(ch) == 0 {
			out = cur
			return nil
		}
		if out, err = tx.WorkspaceUpdate(ctx, next); err != nil {
			return err
		}
		return auditRow(ctx, tx, "workspace.update", "workspace", id.String(), ch)
	})
	if err != nil {
		return Workspace{}, err
	}
	return out, nil
}

// DeleteWorkspace deletes a workspace with its projects and their tasks (see
// DeleteCascades). A non-empty ifMatch must match the workspace's current ETag.
func (s *Service) DeleteWorkspace(ctx context.Context, id coditect.WorkspaceID, ifMatch string) error {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return err
	}
	if id.IsZero() {
		return notFound("workspace")
	}
	return s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.WorkspaceGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, ETag(cur)); err != nil {
			return err
		}
		projects, err := tx.ProjectCountInWorkspace(ctx, id)
		if err != nil {
			return err
		}
		tasks, err := tx.TaskCountInWorkspace(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.WorkspaceDelete(ctx, id); err != nil {
			return err
		}
		return auditRow(ctx, tx, "workspace.delete", "workspace", id.String(),
			changes{"name": cur.Name, "projects_deleted": projects, "tasks_deleted": tasks})
	})
}

// ---- projects ---------------------------------------------------------------------

// CreateProject makes a project in a workspace of the organization.
func (s *Service) CreateProject(ctx context.Context, p CreateProjectParams) (Project, error) {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return Project{}, err
	}
	p, err := p.validate()
	if err != nil {
		return Project{}, err
	}
	limit, err := s.projectLimit(ctx)
	if err != nil {
		return Project{}, err
	}
	var out Project
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		// The plan's limit, counted in the creating transaction: concurrent creates can
		// overshoot it by at most their number, and a downgrade deletes nothing.
		if !limit.Unlimited() {
			n, err := tx.ProjectCount(ctx)
			if err != nil {
				return err
			}
			if err := limit.Check(n); err != nil {
				return err
			}
		}
		pr, err := tx.ProjectCreate(ctx, Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: p.WorkspaceID, Name: p.Name, Description: p.Description})
		if err != nil {
			if coditect.IsNotFound(err) { // the workspace is not in this tenant
				return coditect.Invalid(coditect.FieldError{Field: "workspace_id", Message: "must be a workspace of this organization"})
			}
			return err
		}
		out = pr
		return auditRow(ctx, tx, "project.create", "project", pr.ID.String(),
			changes{"workspace_id": pr.WorkspaceID, "name": pr.Name, "description": pr.Description})
	})
	if err != nil {
		return Project{}, err
	}
	return out, nil
}

// Project returns one project.
func (s *Service) Project(ctx context.Context, id coditect.ProjectID) (Project, error) {
	if err := authorize(ctx, coditect.ActReadWork); err != nil {
		return Project{}, err
	}
	if id.IsZero() {
		return Project{}, notFound("project")
	}
	return s.reader.ProjectGet(ctx, id)
}

// Projects returns a page of projects, oldest first, optionally of one workspace. A
// workspace filter naming no workspace of the organization is a field error.
func (s *Service) Projects(ctx context.Context, f ProjectFilter, p Page) ([]Project, error) {
	if err := authorize(ctx, coditect.ActReadWork); err != nil {
		return nil, err
	}
	if f.WorkspaceID != nil && f.WorkspaceID.IsZero() {
		return nil, coditect.Invalid(coditect.FieldError{Field: "workspace_id", Message: "must not be the nil UUID"})
	}
	list, err := s.reader.ProjectList(ctx, f, p)
	if err != nil {
		return nil, err
	}
	// An empty page may be empty because the filter names nothing: say so. (A page
	// with rows proves the workspace exists, so the common case is one round trip.)
	if len(list) == 0 && f.WorkspaceID != nil {
		if _, err := s.reader.WorkspaceGet(ctx, *f.WorkspaceID); err != nil {
			if coditect.IsNotFound(err) {
				return nil, coditect.Invalid(coditect.FieldError{Field: "workspace_id", Message: "must be a workspace of this organization"})
			}
			return nil, err
		}
	}
	return nonNil(list), nil
}

// UpdateProject changes a project's name and/or description. A non-empty ifMatch must
// match the project's current ETag.
func (s *Service) UpdateProject(ctx context.Context, id coditect.ProjectID, p UpdateProjectParams, ifMatch string) (Project, error) {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return Project{}, err
	}
	p, err := p.validate()
	if err != nil {
		return Project{}, err
	}
	if id.IsZero() {
		return Project{}, notFound("project")
	}
	var out Project
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.ProjectGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, ETag(cur)); err != nil {
			return err
		}
		next, ch := cur, changes{}
		if p.Name != nil && *p.Name != cur.Name {
			next.Name = *p.Name
			ch.set("name", next.Name, cur.Name)
		}
		if p.Description != nil && *p.Description != cur.Description {
			next.Description = *p.Description
			ch.set("description", next.Description, cur.Description)
		}
		if len(ch) == 0 {
			out = cur
			return nil
		}
		if out, err = tx.ProjectUpdate(ctx, next); err != nil {
			return err
		}
		return auditRow(ctx, tx, "project.update", "project", id.String(), ch)
	})
	if err != nil {
		return Project{}, err
	}
	return out, nil
}

// DeleteProject deletes a project with its tasks (see DeleteCascades). A non-empty
// ifMatch must match the project's current ETag.
func (s *Service) DeleteProject(ctx context.Context, id coditect.ProjectID, ifMatch string) error {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return err
	}
	if id.IsZero() {
		return notFound("project")
	}
	return s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.ProjectGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, ETag(cur)); err != nil {
			return err
		}
		tasks, err := tx.TaskCountInProject(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.ProjectDelete(ctx, id); err != nil {
			return err
		}
		return auditRow(ctx, tx, "project.delete", "project", id.String(),
			changes{"name": cur.Name, "workspace_id": cur.WorkspaceID, "tasks_deleted": tasks})
	})
}

// ---- tasks ------------------------------------------------------------------------

func assigneeNotMember() error {
	return coditect.Invalid(coditect.FieldError{Field: "assignee_id", Message: "must be a member of this organization"})
}

// CreateTask makes a task in a project. An unknown project is not found; an assignee
// who is not a member of the organization is a field error.
func (s *Service) CreateTask(ctx context.Context, p CreateTaskParams) (Task, error) {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return Task{}, err
	}
	p, err := p.validate()
	if err != nil {
		return Task{}, err
	}
	var out Task
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		t, err := tx.TaskCreate(ctx, Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: p.ProjectID, Title: p.Title,
			Description: p.Description, Status: p.Status, AssigneeID: p.AssigneeID, DueAt: p.DueAt})
		if err != nil {
			return err
		}
		out = t
		return auditRow(ctx, tx, "task.create", "task", t.ID.String(), changes{"project_id": t.ProjectID, "title": t.Title,
			"description": t.Description, "status": t.Status, "assignee_id": t.AssigneeID, "due_at": utc(t.DueAt)})
	})
	if coditect.IsNotFound(err) {
		// A missing project and a non-member assignee both fail the insert's foreign
		// keys; tell them apart only now, off the hot path.
		return Task{}, s.whyNotCreated(ctx, p)
	}
	if err != nil {
		return Task{}, err
	}
	return out, nil
}

func (s *Service) whyNotCreated(ctx context.Context, p CreateTaskParams) error {
	if _, err := s.reader.ProjectGet(ctx, p.ProjectID); err != nil {
		return err
	}
	if p.AssigneeID != nil {
		return assigneeNotMember()
	}
	return notFound("project") // the project went away meanwhile
}

// Task returns one task.
func (s *Service) Task(ctx context.Context, id coditect.TaskID) (Task, error) {
	if err := authorize(ctx, coditect.ActReadWork); err != nil {
		return Task{}, err
	}
	if id.IsZero() {
		return Task{}, notFound("task")
	}
	return s.reader.TaskGet(ctx, id)
}

// Tasks returns a page of a project's tasks, oldest first, optionally only those in a
// status or assigned to someone. An unknown project is not found; an assignee filter
// naming someone who is not a member is a field error.
func (s *Service) Tasks(ctx context.Context, f TaskFilter, p Page) ([]Task, error) {
	if err := authorize(ctx, coditect.ActReadWork); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	if f.ProjectID.IsZero() {
		return nil, notFound("project")
	}
	list, err := s.reader.TaskList(ctx, f, p)
	if err != nil {
		return nil, err
	}
	// An empty page may be empty because the project or the assignee does not exist
	// here: say so. (A page with rows proves both, so the common case is one round trip.)
	if len(list) == 0 {
		if _, err := s.reader.ProjectGet(ctx, f.ProjectID); err != nil {
			return nil, err
		}
		if f.AssigneeID != nil {
			ok, err := s.reader.IsMember(ctx, *f.AssigneeID)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, assigneeNotMember()
			}
		}
	}
	return nonNil(list), nil
}

// UpdateTask changes a task's title, description, status (along the transition
// table), assignee (nil to unassign) and due date (nil to clear). A non-empty ifMatch
// must match the task's current ETag.
func (s *Service) UpdateTask(ctx context.Context, id coditect.TaskID, p UpdateTaskParams, ifMatch string) (Task, error) {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return Task{}, err
	}
	p, err := p.validate()
	if err != nil {
		return Task{}, err
	}
	if id.IsZero() {
		return Task{}, notFound("task")
	}
	var out Task
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.TaskGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, ETag(cur)); err != nil {
			return err
		}
		next, ch := cur, changes{}
		if p.Title != nil && *p.Title != cur.Title {
			next.Title = *p.Title
			ch.set("title", next.Title, cur.Title)
		}
		if p.Description != nil && *p.Description != cur.Description {
			next.Description = *p.Description
			ch.set("description", next.Description, cur.Description)
		}
		if p.Status != nil && *p.Status != cur.Status {
			if err := checkTransition(cur.Status, *p.Status); err != nil {
				return err
			}
			next.Status = *p.Status
			ch.set("status", next.Status, cur.Status)
		}
		if p.AssigneeID.Set && !sameID(p.AssigneeID.Value, cur.AssigneeID) {
			next.AssigneeID = p.AssigneeID.Value
			ch.set("assignee_id", next.AssigneeID, cur.AssigneeID)
		}
		if p.DueAt.Set && !sameTime(p.DueAt.Value, cur.DueAt) {
			next.DueAt = p.DueAt.Value
			ch.set("due_at", utc(next.DueAt), utc(cur.DueAt))
		}
		if len(ch) == 0 {
			out = cur
			return nil
		}
		if out, err = tx.TaskUpdate(ctx, next); err != nil {
			if _, assigned := ch["assignee_id"]; assigned && next.AssigneeID != nil && coditect.IsNotFound(err) {
				// The task is locked, so only the assignee's foreign key can fail.
				return assigneeNotMember()
			}
			return err
		}
		return auditRow(ctx, tx, "task.update", "task", id.String(), ch)
	})
	if err != nil {
		return Task{}, err
	}
	return out, nil
}

// DeleteTask deletes a task. A non-empty ifMatch must match the task's current ETag.
func (s *Service) DeleteTask(ctx context.Context, id coditect.TaskID, ifMatch string) error {
	if err := authorize(ctx, coditect.ActWriteWork); err != nil {
		return err
	}
	if id.IsZero() {
		return notFound("task")
	}
	return s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.TaskGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, ETag(cur)); err != nil {
			return err
		}
		if err := tx.TaskDelete(ctx, id); err != nil {
			return err
		}
		return auditRow(ctx, tx, "task.delete", "task", id.String(),
			changes{"title": cur.Title, "project_id": cur.ProjectID, "status": cur.Status})
	})
}

func sameID(a, b *coditect.AccountID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// utc returns a time for an audit row: in UTC, or nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nonNil makes an empty list an empty slice, so it encodes as [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
