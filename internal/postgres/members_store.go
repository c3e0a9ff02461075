package postgres

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// Members, invitations and API keys: account.TenantReader and account.Lookups on
// *Store, and account.TenantTx's methods on *Tx. The tenant tables (memberships,
// invitations, api_keys) are always reached with the tenant bound; each change keeps
// its global lookup (account_memberships, invitation_tokens, api_key_prefixes) in step
// in the same transaction.

func membershipOut(r dbsqlc.Membership) account.Membership {
	return account.Membership{Tenant: coditect.TenantID(r.TenantID), AccountID: coditect.AccountID(r.AccountID),
		Role: coditect.Role(r.Role), CreatedAt: r.CreatedAt}
}

func optAccount(id *uuid.UUID) *coditect.AccountID {
	if id == nil {
		return nil
	}
	a := coditect.AccountID(*id)
	return &a
}

func invitationOut(r dbsqlc.Invitation) account.Invitation {
	return account.Invitation{ID: coditect.InvitationID(r.ID), Email: r.Email, Role: coditect.Role(r.Role), InvitedBy: optAccount(r.InvitedBy),
		TokenHash: r.TokenHash, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, AcceptedAt: r.AcceptedAt,
		AcceptedBy: optAccount(r.AcceptedBy), RevokedAt: r.RevokedAt}
}

func apiKeyOut(r dbsqlc.ApiKey) account.APIKey {
	return account.APIKey{ID: coditect.APIKeyID(r.ID), Name: r.Name, Prefix: r.Prefix, SecretHash: r.SecretHash, Role: coditect.Role(r.Role),
		CreatedBy: optAccount(r.CreatedBy), CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt}
}

// MembershipList returns a page of the context tenant's members, oldest first, after
// the position (CreatedAt, ID = account id).
func (s *Store) MembershipList(ctx context.Context, p account.Page) ([]account.Membership, error) {
	var out []account.Membership
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.MembershipList(ctx, dbsqlc.MembershipListParams{TenantID: tenant, Limit: pageLimit(p.Limit),
			AfterCreatedAt: p.CreatedAt, AfterAccountID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, membershipOut(r))
		}
		return err
	})
	return out, dbError(err, "membership")
}

// InvitationList returns a page of the context tenant's invitations, oldest first,
// whatever their state (pending, accepted, revoked or expired).
func (s *Store) InvitationList(ctx context.Context, p account.Page) ([]account.Invitation, error) {
	var out []account.Invitation
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.InvitationList(ctx, dbsqlc.InvitationListParams{TenantID: tenant, Limit: pageLimit(p.Limit),
			AfterCreatedAt: p.CreatedAt, AfterID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, invitationOut(r))
		}
		return err
	})
	return out, dbError(err, "invitation")
}

// APIKeyList returns a page of the context tenant's API keys, oldest first, revoked
// ones included.
func (s *Store) APIKeyList(ctx context.Context, p account.Page) ([]account.APIKey, error) {
	var out []account.APIKey
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.APIKeyList(ctx, dbsqlc.APIKeyListParams{TenantID: tenant, Limit: pageLimit(p.Limit),
			AfterCreatedAt: p.CreatedAt, AfterID: uuid.UUID(p.ID)})
		for _, r := range rows {
			out = append(out, apiKeyOut(r))
		}
		return err
	})
	return out, dbError(err, "API key")
}

// APIKeyGet returns one API key of the context's tenant, revoked or not.
func (s *Store) APIKeyGet(ctx context.Context, id coditect.APIKeyID) (account.APIKey, error) {
	var out account.APIKey
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.APIKeyGet(ctx, dbsqlc.APIKeyGetParams{TenantID: tenant, ID: uid(id)})
		out = apiKeyOut(r)
		return err
	})
	return out, dbError(err, "API key")
}

// InvitationByToken resolves an invitation token's hash to its tenant and invitation
// through the global lookup. It does not look at the invitation's state: the caller
// reads it in that tenant (InvitationGetForUpdate) and checks expiry, acceptance and
// revocation there.
func (s *Store) InvitationByToken(ctx context.Context, hash []byte) (coditect.TenantID, coditect.InvitationID, error) {
	var r dbsqlc.InvitationByTokenRow
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		r, err = q.InvitationByToken(ctx, hash)
		return err
	})
	return coditect.TenantID(r.TenantID), coditect.InvitationID(r.InvitationID), dbError(err, "invitation")
}

// APIKeyByPrefix resolves an API key prefix to its tenant and key through the global
// lookup. Revoked keys keep their prefix row, so they are still found here; the caller
// reads the key in its tenant (APIKeyGet) and rejects it there.
func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (coditect.TenantID, coditect.APIKeyID, error) {
	var r dbsqlc.APIKeyByPrefixRow
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		r, err = q.APIKeyByPrefix(ctx, prefix)
		return err
	})
	return coditect.TenantID(r.TenantID), coditect.APIKeyID(r.KeyID), dbError(err, "API key")
}

// APIKeysTouch records last use times: one UPDATE per tenant, each in that tenant's
// own scoped transaction (as the tenant's system actor, so it goes through the normal
// tenant scope and RLS). last_used_at only ever moves forward; unknown keys (say,
// deleted since) are skipped. A failing tenant does not stop the others; the errors
// are joined.
func (s *Store) APIKeysTouch(ctx context.Context, used map[coditect.TenantID]map[coditect.APIKeyID]time.Time) error {
	tenants := make([]coditect.TenantID, 0, len(used))
	for t := range used {
		tenants = append(tenants, t)
	}
	slices.SortFunc(tenants, func(a, b coditect.TenantID) int { return bytes.Compare(a[:], b[:]) })
	var errs []error
	for _, tenant := range tenants {
		keys := used[tenant]
		if len(keys) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		// Sorted ids give every concurrent touch of a tenant the same lock order.
		ids := make([]uuid.UUID, 0, len(keys))
		for id := range keys {
			ids = append(ids, uid(id))
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		at := make([]time.Time, len(ids))
		for i, id := range ids {
			at[i] = keys[coditect.APIKeyID(id)]
		}
		tctx := coditect.WithActor(ctx, coditect.SystemActor(tenant))
		err := s.quietTx(tctx, func(tx *Tx) error {
			_, err := tx.q.APIKeysTouch(tctx, dbsqlc.APIKeysTouchParams{TenantID: tenantUID(tx.tenant), Ids: ids, UsedAt: at})
			return err
		})
		if err != nil {
			errs = append(errs, dbError(err, "API key"))
		}
	}
	return errors.Join(errs...)
}

// MembershipOwnersForUpdate locks the transaction tenant's owner memberships (FOR
// UPDATE, until the transaction ends) and counts them, so two concurrent demotions or
// removals cannot both pass the last-owner rule.
func (tx *Tx) MembershipOwnersForUpdate(ctx context.Context) (int, error) {
	owners, err := tx.q.MembershipOwnersForUpdate(ctx, tenantUID(tx.tenant))
	return len(owners), dbError(err, "membership")
}

// MembershipGetForUpdate returns an account's membership in the transaction's tenant,
// locking it until the transaction ends.
func (tx *Tx) MembershipGetForUpdate(ctx context.Context, id coditect.AccountID) (account.Membership, error) {
	r, err := tx.q.MembershipGetForUpdate(ctx, dbsqlc.MembershipGetForUpdateParams{TenantID: tenantUID(tx.tenant), AccountID: uid(id)})
	return membershipOut(r), dbError(err, "membership")
}

// MembershipUpdateRole changes a member's role, in the membership and in the
// account-keyed index of memberships. A non-member is not found.
func (tx *Tx) MembershipUpdateRole(ctx context.Context, id coditect.AccountID, role coditect.Role) error {
	t := tenantUID(tx.tenant)
	n, err := tx.q.MembershipUpdateRole(ctx, dbsqlc.MembershipUpdateRoleParams{TenantID: t, AccountID: uid(id), Role: string(role)})
	if err := changed(n, err, "membership"); err != nil {
		return err
	}
	n, err = tx.q.AccountMembershipUpdateRole(ctx, dbsqlc.AccountMembershipUpdateRoleParams{AccountID: uid(id), TenantID: t, Role: string(role)})
	return changed(n, err, "membership")
}

// MembershipDelete removes a member from the transaction's tenant, with its row in
// the account-keyed index. Tasks assigned to it become unassigned (the foreign key's
// ON DELETE SET NULL). A non-member is not found.
func (tx *Tx) MembershipDelete(ctx context.Context, id coditect.AccountID) error {
	t := tenantUID(tx.tenant)
	n, err := tx.q.MembershipDelete(ctx, dbsqlc.MembershipDeleteParams{TenantID: t, AccountID: uid(id)})
	if err := deleted(n, err, "membership"); err != nil {
		return err
	}
	// The index row is gone either way; a missing one is no reason to fail.
	_, err = tx.q.AccountMembershipDelete(ctx, dbsqlc.AccountMembershipDeleteParams{AccountID: uid(id), TenantID: t})
	return dbError(err, "membership")
}

// InvitationCreate stores an invitation in the transaction's tenant and its global
// token → invitation lookup. A token hash in use is a conflict.
func (tx *Tx) InvitationCreate(ctx context.Context, inv account.Invitation) error {
	t := tenantUID(tx.tenant)
	err := tx.q.InvitationCreate(ctx, dbsqlc.InvitationCreateParams{TenantID: t, ID: uid(inv.ID), Email: inv.Email, Role: string(inv.Role),
		InvitedBy: optUID(inv.InvitedBy), TokenHash: inv.TokenHash, ExpiresAt: inv.ExpiresAt})
	if err != nil {
		return dbError(err, "invitation")
	}
	err = tx.q.InvitationTokenCreate(ctx, dbsqlc.InvitationTokenCreateParams{TokenHash: inv.TokenHash, TenantID: t, InvitationID: uid(inv.ID),
		ExpiresAt: inv.ExpiresAt})
	return dbError(err, "invitation")
}

// InvitationSetToken replaces an invitation's token hash and swaps its global lookup
// row (the old token stops resolving, the new one resolves with expires). It does not
// look at the invitation's state; an invitation not in this tenant is not found, and
// a hash in use is a conflict.
func (tx *Tx) InvitationSetToken(ctx context.Context, id coditect.InvitationID, hash []byte, expires time.Time) error {
	t, inv := tenantUID(tx.tenant), uid(id)
	old, err := tx.q.InvitationSetToken(ctx, dbsqlc.InvitationSetTokenParams{TenantID: t, ID: inv, NewHash: hash})
	if err != nil {
		return dbError(err, "invitation")
	}
	if err := tx.q.InvitationTokenDelete(ctx, dbsqlc.InvitationTokenDeleteParams{TokenHash: old, TenantID: t, InvitationID: inv}); err != nil {
		return dbError(err, "invitation")
	}
	err = tx.q.InvitationTokenCreate(ctx, dbsqlc.InvitationTokenCreateParams{TokenHash: hash, TenantID: t, InvitationID: inv, ExpiresAt: expires})
	return dbError(err, "invitation")
}

// InvitationGetForUpdate returns an invitation of the transaction's tenant, whatever
// its state, locking it until the transaction ends.
func (tx *Tx) InvitationGetForUpdate(ctx context.Context, id coditect.InvitationID) (account.Invitation, error) {
	r, err := tx.q.InvitationGetForUpdate(ctx, dbsqlc.InvitationGetForUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return invitationOut(r), dbError(err, "invitation")
}

// InvitationAccept marks a pending invitation accepted by the account and makes that
// account a member with the invitation's role (membership and account-keyed index).
// An invitation that is not pending (accepted, revoked, expired) or not in this
// tenant is not found; an account that already is a member is a conflict. On any
// error the caller's transaction must roll back (InTx does).
func (tx *Tx) InvitationAccept(ctx context.Context, id coditect.InvitationID, by coditect.AccountID) error {
	acc := uid(by)
	role, err := tx.q.InvitationAccept(ctx, dbsqlc.InvitationAcceptParams{TenantID: tenantUID(tx.tenant), ID: uid(id), AcceptedBy: &acc})
	if err != nil {
		return dbError(err, "invitation")
	}
	return tx.MembershipCreate(ctx, by, coditect.Role(role))
}

// InvitationRevoke revokes a pending invitation of the transaction's tenant; revoking
// it again keeps the first time. An accepted invitation cannot be revoked and, like
// an unknown one, is not found. The token lookup row stays: a later accept finds the
// invitation and sees it revoked.
func (tx *Tx) InvitationRevoke(ctx context.Context, id coditect.InvitationID) error {
	n, err := tx.q.InvitationRevoke(ctx, dbsqlc.InvitationRevokeParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return changed(n, err, "invitation")
}

// APIKeyCreate stores an API key in the transaction's tenant and claims its prefix in
// the global prefix lookup. A prefix taken in any tenant is a conflict with code
// "api_key.prefix_taken".
func (tx *Tx) APIKeyCreate(ctx context.Context, k account.APIKey) error {
	t := tenantUID(tx.tenant)
	n, err := tx.q.APIKeyPrefixClaim(ctx, dbsqlc.APIKeyPrefixClaimParams{Prefix: k.Prefix, TenantID: t, KeyID: uid(k.ID)})
	if err != nil {
		return dbError(err, "API key")
	}
	if n == 0 {
		return &coditect.Error{Code: "api_key.prefix_taken", Kind: coditect.CodeConflict, Message: "this API key prefix is taken"}
	}
	err = tx.q.APIKeyCreate(ctx, dbsqlc.APIKeyCreateParams{TenantID: t, ID: uid(k.ID), Name: k.Name, Prefix: k.Prefix, SecretHash: k.SecretHash,
		Role: string(k.Role), CreatedBy: optUID(k.CreatedBy), ExpiresAt: k.ExpiresAt})
	return dbError(err, "API key")
}

// APIKeyRevoke revokes an API key of the transaction's tenant; revoking it again keeps
// the first time. The key's prefix row is kept on purpose: a presented revoked key
// still resolves (APIKeyByPrefix) to its record, which says it is revoked, and its
// prefix can never be handed to another key.
func (tx *Tx) APIKeyRevoke(ctx context.Context, id coditect.APIKeyID) error {
	n, err := tx.q.APIKeyRevoke(ctx, dbsqlc.APIKeyRevokeParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	return changed(n, err, "API key")
}
