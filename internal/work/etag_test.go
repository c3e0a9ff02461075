package work

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

func TestETag(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	w := Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: "A", UpdatedAt: at}
	tag := ETag(w)
	require.Regexp(t, regexp.MustCompile(`^"W1-[A-Za-z0-9_-]{43}"$`), tag, "strong, quoted, base64url SHA-256")
	require.Equal(t, tag, ETag(w), "deterministic")

	w2 := w
	w2.Name = "renamed but same updated_at"
	require.Equal(t, tag, ETag(w2), "the tag follows (id, updated_at) only")
	w2.UpdatedAt = at.Add(time.Microsecond)
	require.NotEqual(t, tag, ETag(w2), "every change moves updated_at, and so the tag")
	w2.UpdatedAt = at.In(time.FixedZone("x", 3600))
	require.Equal(t, tag, ETag(w2), "the same instant in another zone is the same tag")
	w2 = w
	w2.ID = coditect.NewID[coditect.WorkspaceID]()
	require.NotEqual(t, tag, ETag(w2))

	p := Project{ID: coditect.NewID[coditect.ProjectID](), UpdatedAt: at}
	task := Task{ID: coditect.NewID[coditect.TaskID](), UpdatedAt: at}
	require.NotEqual(t, ETag(p), ETag(task))
	require.Regexp(t, `^"W1-`, ETag(p))
	require.Regexp(t, `^"W1-`, ETag(task))
}

func TestETagMatches(t *testing.T) {
	t.Parallel()
	cur := ETag(Task{ID: coditect.NewID[coditect.TaskID](), UpdatedAt: time.Now()})
	other := ETag(Task{ID: coditect.NewID[coditect.TaskID](), UpdatedAt: time.Now()})
	for _, h := range []string{"", "  ", "*", cur, " " + cur + " ", other + ", " + cur, other + "," + cur} {
		require.True(t, ETagMatches(h, cur), "%q", h)
		require.NoError(t, checkIfMatch(h, cur))
	}
	for _, h := range []string{other, "W/" + cur, cur[1 : len(cur)-1], `"x"`, "**"} {
		require.False(t, ETagMatches(h, cur), "%q", h)
		err := checkIfMatch(h, cur)
		require.Equal(t, coditect.CodePrecondition, coditect.ErrorCode(err), "a stale If-Match is a 412")
	}
}
