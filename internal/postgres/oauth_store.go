package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// OAuthStore adapts Store to the OAuth provider's Store interface.
type OAuthStore struct{ *Store }

var _ oauth.Store = OAuthStore{}

// InTenantTx implements oauth.Store.
func (s OAuthStore) InTenantTx(ctx context.Context, fn func(oauth.Tx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx) })
}

func oauthClientOut(r dbsqlc.OauthClient) oauth.Client {
	c := oauth.Client{ID: oauth.ClientUUID(r.ID), Tenant: coditect.TenantID(r.TenantID), ClientID: r.ClientID, Name: r.Name,
		SecretHash: r.SecretHash, RedirectURIs: r.RedirectUris, GrantTypes: r.GrantTypes, Scopes: r.Scopes, Public: r.Public,
		CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
	if r.CreatedBy != nil {
		b := [16]byte(*r.CreatedBy)
		c.CreatedBy = &b
	}
	for _, l := range []*[]string{&c.RedirectURIs, &c.GrantTypes, &c.Scopes} {
		if *l == nil {
			*l = []string{}
		}
	}
	return c
}

// OAuthClientCreate inserts an OAuth client into the transaction's tenant and claims
// its client_id in the global lookup; a taken client_id is a conflict.
func (tx *Tx) OAuthClientCreate(ctx context.Context, c oauth.Client) (oauth.Client, error) {
	t := tenantUID(tx.tenant)
	n, err := tx.q.OAuthClientIDClaim(ctx, dbsqlc.OAuthClientIDClaimParams{ClientID: c.ClientID, TenantID: t, ClientUuid: uuid.UUID(c.ID)})
	if err != nil {
		return oauth.Client{}, dbError(err, "OAuth client")
	}
	if n == 0 {
		return oauth.Client{}, &coditect.Error{Code: "oauth_client.id_taken", Kind: coditect.CodeConflict, Message: "this client_id is taken"}
	}
	var createdBy *uuid.UUID
	if c.CreatedBy != nil {
		u := uuid.UUID(*c.CreatedBy)
		createdBy = &u
	}
	r, err := tx.q.OAuthClientCreate(ctx, dbsqlc.OAuthClientCreateParams{TenantID: t, ID: uuid.UUID(c.ID), ClientID: c.ClientID,
		Name: c.Name, SecretHash: c.SecretHash, RedirectUris: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes,
		Public: c.Public, CreatedBy: createdBy})
	if err != nil {
		return oauth.Client{}, dbError(err, "OAuth client")
	}
	return oauthClientOut(r), nil
}

// OAuthClientRevoke revokes an active client of the transaction's tenant; not found
// when the tenant has no such active client.
func (tx *Tx) OAuthClientRevoke(ctx context.Context, id oauth.ClientUUID) (oauth.Client, error) {
	r, err := tx.q.OAuthClientRevoke(ctx, dbsqlc.OAuthClientRevokeParams{TenantID: tenantUID(tx.tenant), ID: uuid.UUID(id)})
	if err != nil {
		return oauth.Client{}, dbError(err, "OAuth client")
	}
	return oauthClientOut(r), nil
}

// OAuthClientGet returns a client of the context's tenant, revoked or not.
func (s *Store) OAuthClientGet(ctx context.Context, id oauth.ClientUUID) (oauth.Client, error) {
	var out oauth.Client
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.OAuthClientGet(ctx, dbsqlc.OAuthClientGetParams{TenantID: tenant, ID: uuid.UUID(id)})
		out = oauthClientOut(r)
		return err
	})
	return out, dbError(err, "OAuth client")
}

// OAuthClientList pages through the context tenant's clients by (created_at, id).
func (s *Store) OAuthClientList(ctx context.Context, p oauth.Page) ([]oauth.Client, error) {
	out := []oauth.Client{}
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.OAuthClientList(ctx, dbsqlc.OAuthClientListParams{TenantID: tenant, Limit: pageLimit(p.Limit),
			AfterCreatedAt: p.CreatedAt, AfterID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, oauthClientOut(r))
		}
		return err
	})
	if err != nil {
		return nil, dbError(err, "OAuth client")
	}
	return out, nil
}

// OAuthClientLookup resolves a client_id to its tenant and key through the global
// lookup; it needs no tenant in the context.
func (s *Store) OAuthClientLookup(ctx context.Context, clientID string) (coditect.TenantID, oauth.ClientUUID, error) {
	var tenant coditect.TenantID
	var key oauth.ClientUUID
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.OAuthClientIDLookup(ctx, clientID)
		tenant, key = coditect.TenantID(r.TenantID), oauth.ClientUUID(r.ClientUuid)
		return err
	})
	return tenant, key, dbError(err, "OAuth client")
}

// OAuthRequestCreate stores one of fosite's codes, tokens or sessions.
func (s *Store) OAuthRequestCreate(ctx context.Context, r oauth.StoredRequest) error {
	var tenant, account *uuid.UUID
	if !r.Tenant.IsZero() {
		u := tenantUID(r.Tenant)
		tenant = &u
	}
	if !r.AccountID.IsZero() {
		u := uid(r.AccountID)
		account = &u
	}
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		return q.OAuthRequestCreate(ctx, dbsqlc.OAuthRequestCreateParams{Signature: r.Signature, Kind: string(r.Kind),
			RequestID: r.RequestID, ClientID: r.ClientID, TenantID: tenant, AccountID: account, Request: r.Data,
			RequestedAt: r.RequestedAt, ExpiresAt: r.ExpiresAt, Active: r.Active})
	})
	return dbError(err, "OAuth request")
}

// OAuthRequestGet returns a stored code, token or session, active or not.
func (s *Store) OAuthRequestGet(ctx context.Context, kind oauth.RequestKind, signature string) (oauth.StoredRequest, error) {
	var out oauth.StoredRequest
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.OAuthRequestGet(ctx, dbsqlc.OAuthRequestGetParams{Signature: signature, Kind: string(kind)})
		if err != nil {
			return err
		}
		out = oauth.StoredRequest{Signature: r.Signature, Kind: oauth.RequestKind(r.Kind), RequestID: r.RequestID,
			ClientID: r.ClientID, Data: r.Request, RequestedAt: r.RequestedAt, ExpiresAt: r.ExpiresAt, Active: r.Active}
		if r.TenantID != nil {
			out.Tenant = coditect.TenantID(*r.TenantID)
		}
		if r.AccountID != nil {
			out.AccountID = coditect.AccountID(*r.AccountID)
		}
		return nil
	})
	return out, dbError(err, "OAuth request")
}

// OAuthRequestDelete removes a stored code, token or session; a missing one is fine.
func (s *Store) OAuthRequestDelete(ctx context.Context, kind oauth.RequestKind, signature string) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		_, err := q.OAuthRequestDelete(ctx, dbsqlc.OAuthRequestDeleteParams{Signature: signature, Kind: string(kind)})
		return err
	})
	return dbError(err, "OAuth request")
}

// OAuthRequestDeactivate marks a stored code or token inactive and reports whether
// this call did it (false: already inactive, or missing).
func (s *Store) OAuthRequestDeactivate(ctx context.Context, kind oauth.RequestKind, signature string) (bool, error) {
	var n int64
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		n, err = q.OAuthRequestDeactivate(ctx, dbsqlc.OAuthRequestDeactivateParams{Signature: signature, Kind: string(kind)})
		return err
	})
	return n > 0, dbError(err, "OAuth request")
}

// OAuthRequestDeactivateByRequestID marks every stored row of kind from one grant
// inactive. On Citus it fans out (request_id is not the distribution column).
func (s *Store) OAuthRequestDeactivateByRequestID(ctx context.Context, kind oauth.RequestKind, requestID string) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		_, err := q.OAuthRequestDeactivateByRequestID(ctx, dbsqlc.OAuthRequestDeactivateByRequestIDParams{RequestID: requestID, Kind: string(kind)})
		return err
	})
	return dbError(err, "OAuth request")
}

// OAuthRequestDeleteByRequestID removes every stored row of kind from one grant. On
// Citus it fans out (request_id is not the distribution column).
func (s *Store) OAuthRequestDeleteByRequestID(ctx context.Context, kind oauth.RequestKind, requestID string) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		_, err := q.OAuthRequestDeleteByRequestID(ctx, dbsqlc.OAuthRequestDeleteByRequestIDParams{RequestID: requestID, Kind: string(kind)})
		return err
	})
	return dbError(err, "OAuth request")
}

// SystemPurgeExpiredOAuthRequests deletes expired codes, tokens and sessions in
// batches and returns how many went. oauth_requests is not a tenant table, so this is
// an ordinary bounded delete.
func (s *Store) SystemPurgeExpiredOAuthRequests(ctx context.Context) (int64, error) {
	return purgeLoop(ctx, func() (int64, error) {
		var n int64
		err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
			n, err = q.OAuthRequestPurgeExpired(ctx, purgeBatch)
			return err
		})
		return n, dbError(err, "OAuth request")
	})
}

// RevokeAccountGrants deactivates every OAuth code and token issued for an account,
// returning how many were live.
func (s *Store) RevokeAccountGrants(ctx context.Context, id coditect.AccountID) (int64, error) {
	var n int64
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		n, err = q.OAuthRequestRevokeForAccount(ctx, optUID(&id))
		return err
	})
	return n, dbError(err, "oauth grant")
}
