package work

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// fieldsOf returns the field names of a validation error, failing unless err is one.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err), "want a validation error, got %v", err)
	var names []string
	for _, f := range err.(*coditect.Error).Fields {
		names = append(names, f.Field)
	}
	return names
}

func ptr[T any](v T) *T { return &v }

func TestValidateNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ok   bool
		want string // the cleaned name, when ok
	}{
		{"Alpha", true, "Alpha"},
		{"  padded\t", true, "padded"},
		{strings.Repeat("é", MaxNameLen), true, strings.Repeat("é", MaxNameLen)}, // characters, not bytes
		{strings.Repeat("x", MaxNameLen+1), false, ""},
		{"", false, ""},
		{"   ", false, ""},
		{"two\nlines", false, ""},
		{"bell\a", false, ""},
		{"nul\x00", false, ""},
		{"c1\u0085x", false, ""},
		{"bad \xff utf8", false, ""},
		{"emoji 👩‍💻 ok", true, "emoji 👩‍💻 ok"},
	}
	for _, c := range cases {
		got, err := CreateWorkspaceParams{Name: c.name}.validate()
		if !c.ok {
			require.Equal(t, []string{"name"}, fieldsOf(t, err), "name %q", c.name)
			continue
		}
		require.NoError(t, err, "name %q", c.name)
		require.Equal(t, c.want, got.Name)
	}
}

func TestValidateDescriptions(t *testing.T) {
	t.Parallel()
	ok := []string{"", "line one\nline two\r\n\ttabbed", strings.Repeat("ü", MaxDescriptionLen), "  kept as given  "}
	for _, d := range ok {
		got, err := CreateWorkspaceParams{Name: "n", Description: d}.validate()
		require.NoError(t, err)
		require.Equal(t, d, got.Description, "descriptions are not trimmed")
	}
	for _, d := range []string{strings.Repeat("x", MaxDescriptionLen+1), "nul\x00", "esc\x1b[31m", "\xc3"} {
		_, err := CreateWorkspaceParams{Name: "n", Description: d}.validate()
		require.Equal(t, []string{"description"}, fieldsOf(t, err))
	}
}

func TestValidateCreateProject(t *testing.T) {
	t.Parallel()
	_, err := CreateProjectParams{}.validate()
	require.ElementsMatch(t, []string{"workspace_id", "name"}, fieldsOf(t, err), "every bad field is reported at once")
	got, err := CreateProjectParams{WorkspaceID: coditect.NewID[coditect.WorkspaceID](), Name: " P "}.validate()
	require.NoError(t, err)
	require.Equal(t, "P", got.Name)
}

func TestValidateCreateTask(t *testing.T) {
	t.Parallel()
	project := coditect.NewID[coditect.ProjectID]()
	got, err := CreateTaskParams{ProjectID: project, Title: " T "}.validate()
	require.NoError(t, err)
	require.Equal(t, "T", got.Title)
	require.Equal(t, TaskTodo, got.Status, "status defaults to todo")

	for _, st := range TaskStatuses() {
		_, err := CreateTaskParams{ProjectID: project, Title: "t", Status: st}.validate()
		require.NoError(t, err, "a task may start in %s", st)
	}

	zero := coditect.AccountID{}
	_, err = CreateTaskParams{Title: strings.Repeat("t", MaxTitleLen+1), Status: "doing", AssigneeID: &zero,
		DueAt: ptr(time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)), Description: "\x00"}.validate()
	require.ElementsMatch(t, []string{"project_id", "title", "description", "status", "assignee_id", "due_at"}, fieldsOf(t, err))

	got, err = CreateTaskParams{ProjectID: project, Title: strings.Repeat("t", MaxTitleLen)}.validate()
	require.NoError(t, err)
	require.Len(t, got.Title, MaxTitleLen)
}

func TestValidateDueAt(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("UTC+2", 2*3600)
	cases := []struct {
		at time.Time
		ok bool
	}{
		{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{time.Date(2100, 12, 31, 23, 59, 59, 999999000, time.UTC), true},
		{time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2000, 1, 1, 1, 0, 0, 0, berlin), false}, // 1999-12-31T23:00Z
		{time.Date(2030, 6, 1, 12, 0, 0, 0, berlin), true},
		{time.Time{}, false},
	}
	for _, c := range cases {
		got, err := CreateTaskParams{ProjectID: coditect.NewID[coditect.ProjectID](), Title: "t", DueAt: &c.at}.validate()
		if !c.ok {
			require.Equal(t, []string{"due_at"}, fieldsOf(t, err), "due_at %s", c.at)
			continue
		}
		require.NoError(t, err, "due_at %s", c.at)
		require.True(t, got.DueAt.Equal(c.at.Truncate(time.Microsecond)))
		require.Equal(t, time.UTC, got.DueAt.Location(), "stored and audited in UTC")
	}
	// Below the database's microsecond precision is dropped, so the value returned and
	// audited is the value stored.
	at := time.Date(2030, 1, 1, 0, 0, 0, 123456789, time.UTC)
	got, err := CreateTaskParams{ProjectID: coditect.NewID[coditect.ProjectID](), Title: "t", DueAt: &at}.validate()
	require.NoError(t, err)
	require.Equal(t, 123456000, got.DueAt.Nanosecond())
}

func TestValidateUpdates(t *testing.T) {
	t.Parallel()
	p, err := UpdateWorkspaceParams{}.validate()
	require.NoError(t, err, "an empty update is valid (and changes nothing)")
	require.Nil(t, p.Name)

	p, err = UpdateWorkspaceParams{Name: ptr("  New  "), Description: ptr("")}.validate()
	require.NoError(t, err)
	require.Equal(t, "New", *p.Name)
	_, err = UpdateWorkspaceParams{Name: ptr(" "), Description: ptr(strings.Repeat("d", MaxDescriptionLen+1))}.validate()
	require.ElementsMatch(t, []string{"name", "description"}, fieldsOf(t, err))
	_, err = UpdateProjectParams{Name: ptr("a\tb")}.validate()
	require.Equal(t, []string{"name"}, fieldsOf(t, err))

	zero := coditect.AccountID{}
	_, err = UpdateTaskParams{Title: ptr(""), Status: ptr(TaskStatus("DONE")), AssigneeID: SetTo(zero),
		DueAt: SetTo(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))}.validate()
	require.ElementsMatch(t, []string{"title", "status", "assignee_id", "due_at"}, fieldsOf(t, err))
	_, err = UpdateTaskParams{AssigneeID: Null[coditect.AccountID](), DueAt: Null[time.Time]()}.validate()
	require.NoError(t, err, "null unassigns and clears the due date")
}

func TestValidateTaskFilter(t *testing.T) {
	t.Parallel()
	require.NoError(t, TaskFilter{ProjectID: coditect.NewID[coditect.ProjectID](), Status: ptr(TaskDone)}.validate())
	zero := coditect.AccountID{}
	err := TaskFilter{Status: ptr(TaskStatus("open")), AssigneeID: &zero}.validate()
	require.ElementsMatch(t, []string{"status", "assignee_id"}, fieldsOf(t, err))
}

func TestNullableJSON(t *testing.T) {
	t.Parallel()
	id := coditect.NewID[coditect.AccountID]()
	var p UpdateTaskParams
	require.NoError(t, json.Unmarshal([]byte(`{"title":"x"}`), &p))
	require.False(t, p.AssigneeID.Set, "absent leaves the field alone")
	require.False(t, p.DueAt.Set)

	p = UpdateTaskParams{}
	require.NoError(t, json.Unmarshal([]byte(`{"assignee_id":null,"due_at":null}`), &p))
	require.Equal(t, Null[coditect.AccountID](), p.AssigneeID, "null clears")
	require.Equal(t, Null[time.Time](), p.DueAt)

	p = UpdateTaskParams{}
	require.NoError(t, json.Unmarshal([]byte(`{"assignee_id":"`+id.String()+`","due_at":"2030-01-02T03:04:05Z"}`), &p))
	require.Equal(t, SetTo(id), p.AssigneeID)
	require.True(t, p.DueAt.Set)
	require.True(t, p.DueAt.Value.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)))

	require.Error(t, json.Unmarshal([]byte(`{"assignee_id":"nope"}`), &p))
}
