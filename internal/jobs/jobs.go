// Package jobs is the operator's view of the background job queue: list jobs (failed
// ones keep their errors), retry them and cancel them, for `coditect jobs
// list|retry|cancel`. It also holds the few plain types that the worker's jobs and
// the store serving them share (queue counts, the tenant lookup, the weekly report),
// so that neither of those packages has to import the other.
//
// Failure policy (River, internal/worker):
//
//   - A job that returns an error is retried with River's default backoff: about
//     attempt⁴ seconds (±10 % jitter) after the attempt-th failure, so 1 s, 16 s, 81 s,
//     4 min, 10 min, … A job that panics is an ordinary failed attempt; the worker goes
//     on with other jobs.
//   - Each kind has a maximum number of attempts: River's default of 25 (about three
//     weeks of retries) unless the kind's arguments say otherwise in InsertOpts
//     (mail: 10; the weekly report: 5, its fan-out: 3, its email: 10).
//   - A job that fails its last attempt is discarded, and a job that returns
//     river.JobCancel (an error retrying cannot fix) is cancelled. Both stay in
//     river_job with every attempt's error for 30 days (the worker's
//     DiscardedJobRetentionPeriod and CancelledJobRetentionPeriod), where List shows
//     them and Retry runs them again.
package jobs

import "github.com/coditect/coditect/internal/coditect"

// QueueCount is how many jobs of one kind are in one state.
type QueueCount struct {
	Kind  string
	State string
	Count int64
}

// TenantRef is one row of the global slug → tenant lookup, which system fan-outs page
// through (tenant tables are never scanned across tenants).
type TenantRef struct {
	Slug     string
	TenantID coditect.TenantID
}

// Activity is one organization's activity over a period, for the weekly report.
type Activity struct {
	TasksCreated   int64 // tasks created
	TasksCompleted int64 // distinct tasks moved to done
	ActiveMembers  int64 // distinct accounts that did anything the audit log records
}

// Recipient is an organization admin or owner who receives the weekly report.
type Recipient struct {
	AccountID coditect.AccountID
	Email     string
	Name      string
	Role      coditect.Role
}
