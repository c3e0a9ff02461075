package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// Tx is a read-write transaction scoped to one tenant. Everything done through it
// commits or rolls back together: the change, its audit row and the jobs it enqueues.
type Tx struct {
	q      *dbsqlc.Queries
	p      *pipeTx
	jobs   *river.Client[pgx.Tx]
	tenant coditect.TenantID
}

// InTx runs fn in one transaction scoped to the context's tenant, committing when fn
// returns nil and rolling back otherwise (also on panic). No tenant → error, no SQL.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	return s.inTenantTx(ctx, false, fn)
}

// quietTx is InTx for a transaction that changes nothing a cache holds (see
// scope.quiet): committing it leaves the tenant's caches alone.
func (s *Store) quietTx(ctx context.Context, fn func(*Tx) error) error {
	return s.inTenantTx(ctx, true, fn)
}

func (s *Store) inTenantTx(ctx context.Context, quiet bool, fn func(*Tx) error) error {
	sc, err := tenantScope(ctx)
	if err != nil {
		return err
	}
	sc.quiet = quiet
	return s.inTx(ctx, sc, func(p *pipeTx) error {
		return fn(&Tx{q: dbsqlc.New(p), p: p, jobs: s.jobs, tenant: sc.tenant})
	})
}

// Tenant returns the tenant this transaction is scoped to.
func (tx *Tx) Tenant() coditect.TenantID { return tx.tenant }

// Enqueue adds a job for this tenant in this transaction: it runs only if the
// transaction commits, and is never lost once it has. The job is bound to the
// transaction's tenant, whatever it carried.
func (tx *Tx) Enqueue(ctx context.Context, job coditect.TenantBoundJob) error {
	job.BindTenant(tx.tenant)
	ptx, err := tx.p.pgxTx(ctx)
	if err != nil {
		return dbError(err, "job")
	}
	if _, err := tx.jobs.InsertTx(ctx, ptx, job, debounceOpts(job)); err != nil {
		return dbError(err, "job")
	}
	return nil
}

// debounceOpts schedules a coditect.DebouncedJob after its delay, unique by kind and
// arguments among the jobs that have not finished (River's default unique states), so
// a second enqueue while one waits or runs is a no-op. Other jobs: nil (their own
// InsertOpts).
func debounceOpts(job coditect.Job) *river.InsertOpts {
	d, ok := job.(coditect.DebouncedJob)
	if !ok {
		return nil
	}
	return &river.InsertOpts{ScheduledAt: time.Now().Add(d.Debounce()), UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// uid converts any typed id into the uuid the generated code takes.
func uid[K interface{ Bytes() [16]byte }](id K) uuid.UUID { return uuid.UUID(id.Bytes()) }

func tenantUID(t coditect.TenantID) uuid.UUID { return uuid.UUID(t) }

// optUID converts an optional typed id.
func optUID[T interface{ Bytes() [16]byte }](id *T) *uuid.UUID {
	if id == nil {
		return nil
	}
	u := uuid.UUID((*id).Bytes())
	return &u
}
