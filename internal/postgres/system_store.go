package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// System… methods are the declared cross-tenant maintenance statements. They run with
// no tenant; the only tenant table they touch is reachable through a named RLS
// exception (see migration 0001 and the query checker's exception list).

// purgeBatch bounds each purge transaction so it never holds locks for long.
const purgeBatch = 5000

// SystemPurgeExpiredSessions deletes expired and long-revoked sessions in batches and
// returns how many went.
func (s *Store) SystemPurgeExpiredSessions(ctx context.Context) (int64, error) {
	return purgeLoop(ctx, func() (int64, error) {
		var n int64
		err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
			n, err = q.SessionPurgeExpired(ctx, purgeBatch)
			return err
		})
		return n, dbError(err, "session")
	})
}

// SystemPurgeExpiredEmailTokens deletes expired and used email verification and
// password reset tokens in batches and returns how many went.
func (s *Store) SystemPurgeExpiredEmailTokens(ctx context.Context) (int64, error) {
	return purgeLoop(ctx, func() (int64, error) {
		var n int64
		err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
			n, err = q.EmailTokenPurgeExpired(ctx, purgeBatch)
			return err
		})
		return n, dbError(err, "email token")
	})
}

// SystemPurgeExpiredIdempotencyKeys deletes idempotency keys past their 24 h in every
// tenant. RLS shows it expired rows only, and only under app.maintenance.
func (s *Store) SystemPurgeExpiredIdempotencyKeys(ctx context.Context) (int64, error) {
	return purgeLoop(ctx, func() (int64, error) {
		var n int64
		err := s.inTx(ctx, scope{maintenance: "purge_expired"}, func(tx *pipeTx) (err error) {
			n, err = dbsqlc.New(tx).IdempotencyKeyPurgeExpired(ctx, purgeBatch)
			return err
		})
		return n, dbError(err, "idempotency key")
	})
}

// purgeLoop repeats one batch until a batch comes back short.
func purgeLoop(ctx context.Context, batch func() (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := batch()
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
