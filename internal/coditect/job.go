package coditect

import "time"

// Job is the arguments of one unit of background work. Kind names the worker that
// runs it; the arguments are stored as JSON, so they must never hold secrets.
type Job interface {
	Kind() string
}

// TenantJob is embedded in the arguments of every job that works inside one tenant.
// The worker turns TenantID back into a tenant-scoped system actor.
type TenantJob struct {
	TenantID TenantID `json:"tenant_id"`
}

// BindTenant sets the job's tenant. The store calls it with the enqueuing
// transaction's tenant, so a job cannot be enqueued for another tenant.
func (j *TenantJob) BindTenant(t TenantID) { j.TenantID = t }

// TenantBoundJob is a Job that belongs to one tenant.
type TenantBoundJob interface {
	Job
	BindTenant(TenantID)
}

// DebouncedJob is a job that waits Debounce before it runs, and of which at most one
// per kind and arguments waits or runs at a time: enqueueing it again meanwhile does
// nothing, so a burst of changes costs one run. Its worker must read the state it acts
// on when it runs, not from its arguments.
type DebouncedJob interface {
	Job
	Debounce() time.Duration
}
