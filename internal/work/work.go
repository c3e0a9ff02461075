// Package work holds the product's own data: workspaces, which hold projects, which
// hold tasks. Everything here lives inside one tenant.
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
