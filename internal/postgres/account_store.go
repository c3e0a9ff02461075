package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

func orgOut(r dbsqlc.OrganizationGetRow) account.Organization {
	return account.Organization{ID: coditect.TenantID(r.ID), Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func accountOut(id uuid.UUID, email, name, hash string) account.Account {
	return account.Account{ID: coditect.AccountID(id), Email: email, Name: name, PasswordHash: hash}
}

// OrganizationGet returns the context's tenant.
func (s *Store) OrganizationGet(ctx context.Context) (account.Organization, error) {
	var out account.Organization
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.OrganizationGet(ctx, tenant)
		out = orgOut(r)
		return err
	})
	return out, dbError(err, "organization")
}

// MembershipGet returns an account's membership in the context's tenant.
func (s *Store) MembershipGet(ctx context.Context, id coditect.AccountID) (account.Membership, error) {
	var out account.Membership
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.MembershipGet(ctx, dbsqlc.MembershipGetParams{TenantID: tenant, AccountID: uid(id)})
		out = account.Membership{Tenant: coditect.TenantID(r.TenantID), AccountID: coditect.AccountID(r.AccountID),
			Role: coditect.Role(r.Role), CreatedAt: r.CreatedAt}
		return err
	})
	return out, dbError(err, "membership")
}

// TenantBySlug resolves an organization slug to its tenant id. It reads the global
// slug lookup, not a tenant table, so it needs no tenant in the context.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (coditect.TenantID, error) {
	var out coditect.TenantID
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		id, err := q.TenantIDBySlug(ctx, slug)
		out = coditect.TenantID(id)
		return err
	})
	return out, dbError(err, "organization")
}

// TenantByDomain resolves a host name to its tenant id.
func (s *Store) TenantByDomain(ctx context.Context, domain string) (coditect.TenantID, error) {
	var out coditect.TenantID
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		id, err := q.TenantIDByDomain(ctx, domain)
		out = coditect.TenantID(id)
		return err
	})
	return out, dbError(err, "organization")
}

// AccountByEmail finds an account by its normalized (lowercase) email.
func (s *Store) AccountByEmail(ctx context.Context, email string) (account.Account, error) {
	var out account.Account
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.AccountGetByEmail(ctx, email)
		out = accountOut(r.ID, r.Email, r.Name, r.PasswordHash)
		out.EmailVerifiedAt, out.CreatedAt = r.EmailVerifiedAt, r.CreatedAt
		return err
	})
	return out, dbError(err, "account")
}

// AccountMemberships lists the organizations an account belongs to, with its role.
func (s *Store) AccountMemberships(ctx context.Context, id coditect.AccountID) ([]account.Membership, error) {
	var out []account.Membership
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.AccountMembershipList(ctx, uid(id))
		for _, r := range rows {
			out = append(out, account.Membership{Tenant: coditect.TenantID(r.TenantID), AccountID: id, Role: coditect.Role(r.Role), CreatedAt: r.CreatedAt})
		}
		return err
	})
	return out, dbError(err, "membership")
}

// AccountCreate inserts a global account and claims its email; a taken email is a
// conflict with code "account.email_taken".
func (tx *Tx) AccountCreate(ctx context.Context, a account.Account) error {
	n, err := tx.q.AccountEmailClaim(ctx, dbsqlc.AccountEmailClaimParams{Email: a.Email, AccountID: uid(a.ID)})
	if err != nil {
		return dbError(err, "account")
	}
	if n == 0 {
		return &coditect.Error{Code: "account.email_taken", Kind: coditect.CodeConflict, Message: "an account with this email already exists"}
	}
	err = tx.q.AccountCreate(ctx, dbsqlc.AccountCreateParams{ID: uid(a.ID), Email: a.Email, Name: a.Name, PasswordHash: a.PasswordHash})
	if err == nil {
		// Counted for the sign-up gauge (migration 0020); a new account is a sign-up,
		// whether from the sign-up form or an invitation.
		err = tx.addPlatformStats(ctx, time.Now().UTC().Truncate(time.Hour), 1, 0)
	}
	return dbError(err, "account")
}

// OrganizationCreate creates the transaction's tenant: the organization row, its slug
// and its domain. A taken slug or domain is a conflict ("organization.slug_taken").
func (tx *Tx) OrganizationCreate(ctx context.Context, o account.Organization, domain string) (account.Organization, error) {
	t := tenantUID(tx.tenant)
	n, err := tx.q.TenantSlugClaim(ctx, dbsqlc.TenantSlugClaimParams{Slug: o.Slug, TenantID: t})
	if err != nil {
		return o, dbError(err, "organization")
	}
	if n == 0 {
		return o, &coditect.Error{Code: "organization.slug_taken", Kind: coditect.CodeConflict, Message: "this organization slug is taken",
			Fields: []coditect.FieldError{{Field: "organization_slug", Message: "is taken"}}}
	}
	if n, err = tx.q.TenantDomainClaim(ctx, dbsqlc.TenantDomainClaimParams{Domain: domain, TenantID: t}); err != nil {
		return o, dbError(err, "organization")
	}
	if n == 0 {
		return o, &coditect.Error{Code: "organization.domain_taken", Kind: coditect.CodeConflict, Message: "this organization domain is taken"}
	}
	r, err := tx.q.OrganizationCreate(ctx, dbsqlc.OrganizationCreateParams{TenantID: t, Slug: o.Slug, Name: o.Name})
	if err != nil {
		return o, dbError(err, "organization")
	}
	return account.Organization{ID: coditect.TenantID(r.ID), Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// MembershipCreate adds an account to the transaction's tenant with a role, keeping
// the account-keyed index of memberships in step.
func (tx *Tx) MembershipCreate(ctx context.Context, id coditect.AccountID, role coditect.Role) error {
	t := tenantUID(tx.tenant)
	if err := tx.q.MembershipCreate(ctx, dbsqlc.MembershipCreateParams{TenantID: t, AccountID: uid(id), Role: string(role)}); err != nil {
		return dbError(err, "membership")
	}
	err := tx.q.AccountMembershipCreate(ctx, dbsqlc.AccountMembershipCreateParams{AccountID: uid(id), TenantID: t, Role: string(role)})
	return dbError(err, "membership")
}
