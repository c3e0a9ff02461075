package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/coditect/coditect/internal/coditect"
)

// Fair enqueue: see the package comment for the design and its guarantee.

// fairTiers are the backlog sizes at which a tenant's new jobs drop one priority: a
// tenant with fewer than 100 jobs waiting enqueues at priority 1 (River's default and
// highest), from 100 at 2, from 1,000 at 3 and from 10,000 at 4 (River's lowest).
var fairTiers = [...]int{100, 1_000, 10_000}

// backlogCap is where counting a tenant's backlog stops: past the last tier the
// priority no longer changes.
const backlogCap = 10_000

// FairPriority returns the priority of a tenant's job when backlog of its jobs are
// already waiting.
func FairPriority(backlog int) int {
	p := 1
	for _, t := range fairTiers {
		if backlog >= t {
			p++
		}
	}
	return p
}

// BacklogCounter counts tenants' waiting jobs (available, scheduled, retryable), each
// no further than limit; *postgres.Store implements it with one indexed query.
type BacklogCounter interface {
	JobBacklogs(ctx context.Context, tenants []coditect.TenantID, limit int) (map[coditect.TenantID]int, error)
}

// FairEnqueue is River insert middleware that sets each tenant job's priority from its
// tenant's backlog (FairPriority), never raising a priority the job's kind declared.
// Jobs with no tenant are left alone. Add it to every River client that inserts jobs:
// the store's (postgres.Store.WithJobMiddleware) and the worker's (Config.Fair).
//
// Counting costs one query per insert call (all of a batch's tenants at once), and a
// tenant's count is reused for a second, kept up to date with what this process
// inserts in between, so a tenant enqueuing one job per request causes about one count
// per second per process. The count runs outside the inserting transaction with a
// short timeout; when it fails, the last known count (or none) is used and the insert
// goes on: fairness degrades for a moment, inserts never fail or wait long because
// of it.
type FairEnqueue struct {
	river.MiddlewareDefaults
	counter BacklogCounter
	log     *slog.Logger
	ttl     time.Duration // how long a count is reused
	timeout time.Duration // how long a count may take

	mu    sync.Mutex
	known map[coditect.TenantID]backlog
}

type backlog struct {
	n  int
	at time.Time
}

// NewFairEnqueue returns the middleware over counter.
func NewFairEnqueue(counter BacklogCounter, log *slog.Logger) *FairEnqueue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FairEnqueue{counter: counter, log: log, ttl: time.Second, timeout: 250 * time.Millisecond,
		known: map[coditect.TenantID]backlog{}}
}

var _ rivertype.JobInsertMiddleware = (*FairEnqueue)(nil)

// InsertMany implements rivertype.JobInsertMiddleware. Within one call, a tenant's jobs
// count each other: the 101st job of a 100,000-job batch already goes in at priority 2.
func (m *FairEnqueue) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	byTenant := map[coditect.TenantID][]*rivertype.JobInsertParams{}
	var order []coditect.TenantID
	for _, p := range params {
		t, ok := jobTenant(p.EncodedArgs)
		if !ok {
			continue
		}
		if _, seen := byTenant[t]; !seen {
			order = append(order, t)
		}
		byTenant[t] = append(byTenant[t], p)
	}
	if len(order) == 0 {
		return doInner(ctx)
	}
	base := m.backlogs(ctx, order)
	m.mu.Lock()
	for _, t := range order {
		ps := byTenant[t]
		for i, p := range ps {
			p.Priority = max(p.Priority, FairPriority(base[t]+i))
		}
		if b, ok := m.known[t]; ok {
			b.n += len(ps) // until the next count, what this process added counts too
			m.known[t] = b
		}
	}
	m.mu.Unlock()
	return doInner(ctx)
}

// backlogs returns each tenant's waiting jobs, from the recent counts or one query.
func (m *FairEnqueue) backlogs(ctx context.Context, tenants []coditect.TenantID) map[coditect.TenantID]int {
	now := time.Now()
	out := make(map[coditect.TenantID]int, len(tenants))
	var stale []coditect.TenantID
	m.mu.Lock()
	for _, t := range tenants {
		if b, ok := m.known[t]; ok && now.Sub(b.at) < m.ttl {
			out[t] = b.n
		} else {
			stale = append(stale, t)
			out[t] = b.n // the last known count (0 if none) stands if counting fails
		}
	}
	m.mu.Unlock()
	if len(stale) == 0 {
		return out
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout)
	counted, err := m.counter.JobBacklogs(cctx, stale, backlogCap)
	cancel()
	if err != nil {
		m.log.WarnContext(ctx, "fair enqueue: counting the tenants' waiting jobs failed; using the last counts", "error", err.Error())
		return out
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.known) > 10_000 { // forget tenants not seen for a while
		for t, b := range m.known {
			if now.Sub(b.at) > time.Minute {
				delete(m.known, t)
			}
		}
	}
	for _, t := range stale {
		out[t] = counted[t]
		m.known[t] = backlog{n: counted[t], at: now}
	}
	return out
}

// jobTenant reads the tenant_id of a job's encoded arguments.
func jobTenant(encoded []byte) (coditect.TenantID, bool) {
	var args struct {
		TenantID *coditect.TenantID `json:"tenant_id"`
	}
	if json.Unmarshal(encoded, &args) != nil || args.TenantID == nil || args.TenantID.IsZero() {
		return coditect.TenantID{}, false
	}
	return *args.TenantID, true
}
