package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Filter selects the jobs List returns. Empty fields match everything.
type Filter struct {
	State string // a River job state: available, scheduled, running, retryable, completed, cancelled, discarded, pending
	Kind  string // a job kind, e.g. "mail.send"
	Limit int    // at most this many (newest first); DefaultLimit when zero, MaxLimit at most
}

// List limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// JobInfo is what an operator sees of one job.
type JobInfo struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	State       string     `json:"state"`
	Queue       string     `json:"queue"`
	Priority    int        `json:"priority"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	Errors      int        `json:"errors"`               // failed attempts recorded
	LastError   string     `json:"last_error,omitempty"` // the last attempt's error
	TenantID    string     `json:"tenant_id,omitempty"`  // the args' tenant_id; none for a system job
	CreatedAt   time.Time  `json:"created_at"`
	ScheduledAt time.Time  `json:"scheduled_at"`
	AttemptedAt *time.Time `json:"attempted_at"`
	FinalizedAt *time.Time `json:"finalized_at"`
}

// ErrInvalid wraps a bad filter or argument.
var ErrInvalid = errors.New("jobs: invalid argument")

// ErrNotFound is returned for a job id that does not exist (or no longer does:
// finished jobs are deleted after their retention period).
var ErrNotFound = errors.New("jobs: job not found")

// Admin lists, retries and cancels jobs through River's client API.
type Admin struct {
	client *river.Client[pgx.Tx]
}

// NewAdmin returns an Admin over pool (the application role suffices: River's tables
// are the application's).
func NewAdmin(pool *pgxpool.Pool) (*Admin, error) {
	// No workers and never started: this client only reads and updates job rows.
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return nil, err
	}
	return &Admin{client: c}, nil
}

// List returns the jobs matching f, newest first.
func (a *Admin) List(ctx context.Context, f Filter) ([]JobInfo, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return nil, fmt.Errorf("%w: limit must be between 1 and %d", ErrInvalid, MaxLimit)
	}
	p := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if f.State != "" {
		st := rivertype.JobState(f.State)
		if !slices.Contains(rivertype.JobStates(), st) {
			return nil, fmt.Errorf("%w: unknown state %q (want one of %s)", ErrInvalid, f.State, stateNames())
		}
		p = p.States(st)
	}
	if f.Kind != "" {
		p = p.Kinds(f.Kind)
	}
	res, err := a.client.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]JobInfo, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, Info(j))
	}
	return out, nil
}

// Retry makes a job available to run again now: a discarded, cancelled, completed,
// retryable or scheduled job runs as soon as a worker is free (River adds an attempt if
// it has used all of them). A running job is left alone.
func (a *Admin) Retry(ctx context.Context, id int64) (JobInfo, error) {
	j, err := a.client.JobRetry(ctx, id)
	return a.result(j, err, "retry")
}

// Cancel cancels a job: one that is waiting (available, scheduled, retryable) is
// cancelled at once and never runs; a running one has its context cancelled and is
// marked cancelled when it returns. A finished job is left as it is.
func (a *Admin) Cancel(ctx context.Context, id int64) (JobInfo, error) {
	j, err := a.client.JobCancel(ctx, id)
	return a.result(j, err, "cancel")
}

func (a *Admin) result(j *rivertype.JobRow, err error, op string) (JobInfo, error) {
	if errors.Is(err, river.ErrNotFound) {
		return JobInfo{}, ErrNotFound
	}
	if err != nil {
		return JobInfo{}, fmt.Errorf("%s job: %w", op, err)
	}
	return Info(j), nil
}

// Info converts a River job row.
func Info(j *rivertype.JobRow) JobInfo {
	out := JobInfo{
		ID: j.ID, Kind: j.Kind, State: string(j.State), Queue: j.Queue, Priority: j.Priority,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Errors: len(j.Errors),
		CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, AttemptedAt: j.AttemptedAt, FinalizedAt: j.FinalizedAt,
	}
	if n := len(j.Errors); n > 0 {
		out.LastError = j.Errors[n-1].Error
	}
	var args struct {
		TenantID string `json:"tenant_id"`
	}
	if json.Unmarshal(j.EncodedArgs, &args) == nil {
		out.TenantID = args.TenantID
	}
	return out
}

func stateNames() string {
	var s []string
	for _, st := range rivertype.JobStates() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}
