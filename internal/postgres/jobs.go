package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/coditect"
)

// EnqueueSystem inserts a declared system job (no tenant) on its own: for work that
// no database change accompanies, such as "send this account a reset link".
func (s *Store) EnqueueSystem(ctx context.Context, job coditect.Job) error {
	if _, ok := job.(coditect.TenantBoundJob); ok {
		return coditect.Errorf(coditect.CodeInternal, "job %s belongs to a tenant: enqueue it in a tenant transaction", job.Kind())
	}
	if _, err := s.jobs.Insert(ctx, job, nil); err != nil {
		return dbError(err, "job")
	}
	return nil
}
