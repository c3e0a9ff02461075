package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// IdempotencyRecord is a stored Idempotency-Key claim and, once complete, the response
// to replay.
type IdempotencyRecord struct {
	Principal   string
	Key         string
	RequestHash []byte
	Status      *int32 // nil while the first request is still running
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// IdempotencyKeyClaim claims key for principal in the transaction's tenant, or takes
// over an expired claim. It reports false when a live claim exists.
func (tx *Tx) IdempotencyKeyClaim(ctx context.Context, principal, key string, requestHash []byte, expires time.Time) (bool, error) {
	n, err := tx.q.IdempotencyKeyClaim(ctx, dbsqlc.IdempotencyKeyClaimParams{TenantID: tenantUID(tx.tenant), Principal: principal,
		Key: key, RequestHash: requestHash, ExpiresAt: expires})
	return n == 1, dbError(err, "idempotency key")
}

// IdempotencyKeyComplete stores the response to replay for a claimed key.
func (tx *Tx) IdempotencyKeyComplete(ctx context.Context, principal, key string, status int32, body []byte) error {
	n, err := tx.q.IdempotencyKeyComplete(ctx, dbsqlc.IdempotencyKeyCompleteParams{TenantID: tenantUID(tx.tenant), Principal: principal,
		Key: key, Status: &status, ResponseBody: body})
	return deleted(n, err, "idempotency key")
}

// IdempotencyKeyGet returns a live claim of the context's tenant.
func (s *Store) IdempotencyKeyGet(ctx context.Context, principal, key string) (IdempotencyRecord, error) {
	var out IdempotencyRecord
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.IdempotencyKeyGet(ctx, dbsqlc.IdempotencyKeyGetParams{TenantID: tenant, Principal: principal, Key: key})
		out = IdempotencyRecord{Principal: r.Principal, Key: r.Key, RequestHash: r.RequestHash, Status: r.Status,
			Body: r.ResponseBody, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
		return err
	})
	return out, dbError(err, "idempotency key")
}
