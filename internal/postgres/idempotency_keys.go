package postgres

import (
	"context"
	"time"

	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// IdempotencyKeyRelease deletes an unfinished claim (its request failed on the
// server's side), so a retry with the same key runs again. A completed record stays;
// releasing one that is not there is fine.
func (tx *Tx) IdempotencyKeyRelease(ctx context.Context, principal, key string) error {
	_, err := tx.q.IdempotencyKeyRelease(ctx, dbsqlc.IdempotencyKeyReleaseParams{TenantID: tenantUID(tx.tenant), Principal: principal, Key: key})
	return dbError(err, "idempotency key")
}

// IdempotencyKeys adapts Store to the HTTP API's Idempotency-Key store
// (httpapi.IdempotencyStore). Every method works in the context's tenant, and each
// change is its own short transaction, committed before the request's own work starts
// or after it ends: a claim must be visible to a concurrent retry at once.
type IdempotencyKeys struct{ *Store }

// IdempotencyClaim claims key for principal until expires (see Tx.IdempotencyKeyClaim);
// false means a live claim exists.
func (s IdempotencyKeys) IdempotencyClaim(ctx context.Context, principal, key string, requestHash []byte, expires time.Time) (bool, error) {
	var ok bool
	err := s.quietTx(ctx, func(tx *Tx) error {
		var err error
		ok, err = tx.IdempotencyKeyClaim(ctx, principal, key, requestHash, expires)
		return err
	})
	return ok, err
}

// IdempotencyComplete stores the response to replay for a claimed key.
func (s IdempotencyKeys) IdempotencyComplete(ctx context.Context, principal, key string, status int, response []byte) error {
	return s.quietTx(ctx, func(tx *Tx) error { return tx.IdempotencyKeyComplete(ctx, principal, key, int32(status), response) })
}

// IdempotencyRelease drops an unfinished claim.
func (s IdempotencyKeys) IdempotencyRelease(ctx context.Context, principal, key string) error {
	return s.quietTx(ctx, func(tx *Tx) error { return tx.IdempotencyKeyRelease(ctx, principal, key) })
}

// IdempotencyLookup returns a live claim: its request hash and, once complete, the
// stored status and response (status 0 while the first request is still running).
// No live claim is not found.
func (s IdempotencyKeys) IdempotencyLookup(ctx context.Context, principal, key string) ([]byte, int, []byte, error) {
	r, err := s.IdempotencyKeyGet(ctx, principal, key)
	if err != nil {
		return nil, 0, nil, err
	}
	status := 0
	if r.Status != nil {
		status = int(*r.Status)
	}
	return r.RequestHash, status, r.Body, nil
}
