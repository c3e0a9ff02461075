package work

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coditect/coditect/internal/coditect"
)

// The input limits, in characters (Unicode code points, as PostgreSQL's length()
// counts them). The schema's CHECK constraints say the same.
const (
	MaxNameLen        = 200   // workspace and project names, after trimming
	MaxTitleLen       = 500   // task titles, after trimming
	MaxDescriptionLen = 10000 // descriptions of all three
)

// DueAtMinYear and DueAtMaxYear bound a task's due_at: from the start of the year 2000
// to the end of the year 2100, UTC.
const (
	DueAtMinYear = 2000
	DueAtMaxYear = 2100
)

// CreateWorkspaceParams is a new workspace.
type CreateWorkspaceParams struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// UpdateWorkspaceParams changes a workspace; a nil field is left as it is.
type UpdateWorkspaceParams struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// CreateProjectParams is a new project in a workspace.
type CreateProjectParams struct {
	WorkspaceID coditect.WorkspaceID `json:"workspace_id"`
	Name        string               `json:"name"`
	Description string               `json:"description"`
}

// UpdateProjectParams changes a project; a nil field is left as it is.
type UpdateProjectParams struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// CreateTaskParams is a new task in a project. ProjectID comes from the URL path.
// Status defaults to todo; AssigneeID, when set, must be a member of the organization.
type CreateTaskParams struct {
	ProjectID   coditect.ProjectID  `json:"-"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Status      TaskStatus          `json:"status"`
	AssigneeID  *coditect.AccountID `json:"assignee_id"`
	DueAt       *time.Time          `json:"due_at"`
}

// UpdateTaskParams changes a task; a nil (or unset) field is left as it is. Setting
// AssigneeID or DueAt to null unassigns the task or clears its due date.
type UpdateTaskParams struct {
	Title       *string                      `json:"title"`
	Description *string                      `json:"description"`
	Status      *TaskStatus                  `json:"status"`
	AssigneeID  Nullable[coditect.AccountID] `json:"assignee_id"`
	DueAt       Nullable[time.Time]          `json:"due_at"`
}

// Nullable is a field of a partial update that can also be cleared. The zero value
// leaves the field alone; Set with a nil Value clears it (JSON null); Set with a Value
// sets it.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// SetTo returns a Nullable that sets the field to v.
func SetTo[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: &v} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true} }

// UnmarshalJSON implements json.Unmarshaler: a field that is present is Set, and null
// clears it. (A field that is absent never reaches UnmarshalJSON, so it stays unset.)
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set, n.Value = true, nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// fieldErrors collects the problems of one input.
type fieldErrors []coditect.FieldError

func (f *fieldErrors) add(field, msg string) {
	*f = append(*f, coditect.FieldError{Field: field, Message: msg})
}

// err returns the validation error, or nil when there were no problems.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return coditect.Invalid(f...)
}

// line checks a one-line text (a name or title): trimmed, 1 to max characters, valid
// UTF-8, no control characters. It returns the trimmed text.
func (f *fieldErrors) line(field, s string, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		f.add(field, "must be valid UTF-8")
	case s == "" || utf8.RuneCountInString(s) > max:
		f.add(field, "must be 1 to "+strconv.Itoa(max)+" characters (after trimming spaces)")
	case strings.ContainsFunc(s, unicode.IsControl):
		f.add(field, "must not contain control characters")
	}
	return s
}

// text checks a free text (a description): at most max characters, valid UTF-8, no
// control characters other than tab, line feed and carriage return. It is kept as given.
func (f *fieldErrors) text(field, s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		f.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		f.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }):
		f.add(field, "must not contain control characters other than tab and line breaks")
	}
	return s
}

func (f *fieldErrors) status(field string, s TaskStatus) {
	if !s.Valid() {
		f.add(field, "must be one of todo, in_progress, done, canceled")
	}
}

// dueAt checks a due date and returns it in UTC at the database's precision
// (microseconds), so the value returned and audited is the value stored.
func (f *fieldErrors) dueAt(field string, t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	if y := u.Year(); y < DueAtMinYear || y > DueAtMaxYear {
		f.add(field, "must be between 2000-01-01 and 2100-12-31 (UTC)")
		return t
	}
	return &u
}

func (f *fieldErrors) accountID(field string, id *coditect.AccountID) {
	if id != nil && id.IsZero() {
		f.add(field, "must not be the nil UUID")
	}
}

// validate checks p and returns it cleaned (names trimmed).
func (p CreateWorkspaceParams) validate() (CreateWorkspaceParams, error) {
	var f fieldErrors
	p.Name = f.line("name", p.Name, MaxNameLen)
	p.Description = f.text("description", p.Description, MaxDescriptionLen)
	return p, f.err()
}

func (p UpdateWorkspaceParams) validate() (UpdateWorkspaceParams, error) {
	var f fieldErrors
	if p.Name != nil {
		n := f.line("name", *p.Name, MaxNameLen)
		p.Name = &n
	}
	if p.Description != nil {
		d := f.text("description", *p.Description, MaxDescriptionLen)
		p.Description = &d
	}
	return p, f.err()
}

func (p CreateProjectParams) validate() (CreateProjectParams, error) {
	var f fieldErrors
	if p.WorkspaceID.IsZero() {
		f.add("workspace_id", "is required")
	}
	p.Name = f.line("name", p.Name, MaxNameLen)
	p.Description = f.text("description", p.Description, MaxDescriptionLen)
	return p, f.err()
}

func (p UpdateProjectParams) validate() (UpdateProjectParams, error) {
	w, err := UpdateWorkspaceParams(p).validate()
	return UpdateProjectParams(w), err
}

func (p CreateTaskParams) validate() (CreateTaskParams, error) {
	var f fieldErrors
	if p.ProjectID.IsZero() {
		f.add("project_id", "is required")
	}
	p.Title = f.line("title", p.Title, MaxTitleLen)
	p.Description = f.text("description", p.Description, MaxDescriptionLen)
	if p.Status == "" {
		p.Status = TaskTodo
	}
	f.status("status", p.Status)
	f.accountID("assignee_id", p.AssigneeID)
	p.DueAt = f.dueAt("due_at", p.DueAt)
	return p, f.err()
}

func (p UpdateTaskParams) validate() (UpdateTaskParams, error) {
	var f fieldErrors
	if p.Title != nil {
		t := f.line("title", *p.Title, MaxTitleLen)
		p.Title = &t
	}
	if p.Description != nil {
		d := f.text("description", *p.Description, MaxDescriptionLen)
		p.Description = &d
	}
	if p.Status != nil {
		f.status("status", *p.Status)
	}
	f.accountID("assignee_id", p.AssigneeID.Value)
	p.DueAt.Value = f.dueAt("due_at", p.DueAt.Value)
	return p, f.err()
}

// validate checks a task list's filters.
func (tf TaskFilter) validate() error {
	var f fieldErrors
	if tf.Status != nil {
		f.status("status", *tf.Status)
	}
	f.accountID("assignee_id", tf.AssigneeID)
	return f.err()
}
