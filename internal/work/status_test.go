package work

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

func TestTransitionTable(t *testing.T) {
	t.Parallel()
	const (
		todo  = TaskTodo
		doing = TaskInProgress
		done  = TaskDone
		cxl   = TaskCanceled
	)
	allowed := map[[2]TaskStatus]bool{
		{todo, doing}: true, {todo, done}: true, {todo, cxl}: true,
		{doing, todo}: true, {doing, done}: true, {doing, cxl}: true,
		{done, todo}: true, {done, doing}: true,
		{cxl, todo}: true,
	}
	for _, from := range TaskStatuses() {
		for _, to := range TaskStatuses() {
			want := from == to || allowed[[2]TaskStatus{from, to}]
			require.Equal(t, want, CanTransition(from, to), "%s → %s", from, to)
			err := checkTransition(from, to)
			if want {
				require.NoError(t, err)
				continue
			}
			require.Error(t, err, "%s → %s", from, to)
			require.Equal(t, CodeInvalidTransition, coditect.ErrorCode(err))
			require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err), "an invalid transition is a 409")
			require.Contains(t, err.(*coditect.Error).Message, "from "+string(from)+" to "+string(to))
		}
	}
	require.False(t, CanTransition("", TaskTodo))
	require.False(t, CanTransition(TaskTodo, "archived"))
	require.False(t, CanTransition("archived", "archived"))
}

func TestTaskStatusValid(t *testing.T) {
	t.Parallel()
	for _, s := range TaskStatuses() {
		require.True(t, s.Valid())
	}
	for _, s := range []TaskStatus{"", "Todo", "open", "in-progress", "cancelled"} {
		require.False(t, s.Valid(), "%q", s)
	}
}
