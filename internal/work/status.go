package work

import (
	"fmt"
	"strings"

	"github.com/coditect/coditect/internal/coditect"
)

// CodeInvalidTransition is the error code of a status change the transition table
// does not allow (HTTP 409).
const CodeInvalidTransition coditect.Code = "task.invalid_transition"

// NextStatuses is the one table of task status transitions: the statuses a task in
// status from may move to. Reopening is allowed (done → todo or in_progress, canceled
// → todo); a canceled task cannot be finished without being reopened first. An unknown
// status moves nowhere.
func NextStatuses(from TaskStatus) []TaskStatus {
	switch from {
	case TaskTodo:
		return []TaskStatus{TaskInProgress, TaskDone, TaskCanceled}
	case TaskInProgress:
		return []TaskStatus{TaskTodo, TaskDone, TaskCanceled}
	case TaskDone:
		return []TaskStatus{TaskTodo, TaskInProgress}
	case TaskCanceled:
		return []TaskStatus{TaskTodo}
	}
	return nil
}

// CanTransition reports whether a task may move from one status to another. Staying in
// the same (valid) status is allowed: it changes nothing.
func CanTransition(from, to TaskStatus) bool {
	if from == to {
		return from.Valid()
	}
	for _, s := range NextStatuses(from) {
		if s == to {
			return true
		}
	}
	return false
}

// checkTransition returns the conflict error for a move the table does not allow.
func checkTransition(from, to TaskStatus) error {
	if CanTransition(from, to) {
		return nil
	}
	next := make([]string, 0, 3)
	for _, s := range NextStatuses(from) {
		next = append(next, string(s))
	}
	return &coditect.Error{Code: CodeInvalidTransition, Kind: coditect.CodeConflict,
		Message: fmt.Sprintf("a task cannot move from %s to %s; from %s it can move to %s", from, to, from, strings.Join(next, ", "))}
}
