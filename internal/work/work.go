// Package work holds the product's own data: workspaces, which hold projects, which
// hold tasks. Everything here lives inside one tenant.
//
// Service is the business rules. Every method authorizes the actor's role first
// (reads need coditect.ActReadWork, viewer or higher; writes coditect.ActWriteWork,
// member or higher), validates its input (field-level coditect.Invalid errors), and
// runs each change in one transaction together with its one audit row.
//
// Rules worth knowing:
//
//   - Deleting cascades (see DeleteCascades): deleting a workspace deletes its projects
//     and their tasks; deleting a project deletes its tasks. Nothing is left orphaned,
//     and the delete's audit row records how many projects and tasks went with it.
//   - A task's status moves only along the transitions of CanTransition; any other
//     move is a conflict (CodeInvalidTransition). Setting the same status is a no-op.
//   - A task's assignee must be a member of the organization.
//   - Every resource has an ETag (see ETag); an update or delete given a non-empty
//     If-Match that does not match the row as it is inside the write transaction fails
//     with coditect.CodePrecondition and changes nothing.
//   - An update that changes nothing writes nothing (no row change, no audit row) and
//     returns the resource as it is.
//   - Ids a method takes as an argument (the resource in the URL path) answer not found
//     when unknown, including another tenant's. Ids inside parameters and filters (a
//     project's workspace_id, a task's assignee_id, list filters) that do not exist in
//     this organization are field errors (coditect.CodeInvalid).
package work

import (
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Workspace groups projects.
type Workspace struct {
	ID          coditect.WorkspaceID `json:"id"`
	Name        string               `json:"name"`
	Description string               `json:"description"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

// Project belongs to a workspace and holds tasks.
type Project struct {
	ID          coditect.ProjectID   `json:"id"`
	WorkspaceID coditect.WorkspaceID `json:"workspace_id"`
	Name        string               `json:"name"`
	Description string               `json:"description"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

// TaskStatus is where a task is in its life.
type TaskStatus string

// The task statuses.
const (
	TaskTodo       TaskStatus = "todo"
	TaskInProgress TaskStatus = "in_progress"
	TaskDone       TaskStatus = "done"
	TaskCanceled   TaskStatus = "canceled"
)

// TaskStatuses returns every task status, in the order of a task's usual life.
func TaskStatuses() []TaskStatus {
	return []TaskStatus{TaskTodo, TaskInProgress, TaskDone, TaskCanceled}
}

// Valid reports whether s is one of the task statuses.
func (s TaskStatus) Valid() bool {
	switch s {
	case TaskTodo, TaskInProgress, TaskDone, TaskCanceled:
		return true
	}
	return false
}

// Task is one unit of work in a project.
type Task struct {
	ID          coditect.TaskID     `json:"id"`
	ProjectID   coditect.ProjectID  `json:"project_id"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Status      TaskStatus          `json:"status"`
	AssigneeID  *coditect.AccountID `json:"assignee_id"`
	DueAt       *time.Time          `json:"due_at"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// Page asks for up to Limit items after the position (CreatedAt, ID) of the last item
// of the previous page; the zero Page is the first page.
type Page struct {
	Limit     int
	CreatedAt time.Time
	ID        [16]byte
}

// ProjectFilter narrows a project list.
type ProjectFilter struct {
	WorkspaceID *coditect.WorkspaceID
}

// TaskFilter narrows a task list.
type TaskFilter struct {
	ProjectID  coditect.ProjectID
	Status     *TaskStatus
	AssigneeID *coditect.AccountID
}
