package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// OrganizationGetForUpdate reads the transaction's organization and locks it until the
// transaction ends; not found once it is deleted.
func (tx *Tx) OrganizationGetForUpdate(ctx context.Context) (account.Organization, error) {
	r, err := tx.q.OrganizationGetForUpdate(ctx, tenantUID(tx.tenant))
	if err != nil {
		return account.Organization{}, dbError(err, "organization")
	}
	return account.Organization{ID: coditect.TenantID(r.ID), Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// OrganizationRename sets the transaction's organization's name and returns it.
func (tx *Tx) OrganizationRename(ctx context.Context, name string) (account.Organization, error) {
	r, err := tx.q.OrganizationRename(ctx, dbsqlc.OrganizationRenameParams{TenantID: tenantUID(tx.tenant), Name: name})
	if err != nil {
		return account.Organization{}, dbError(err, "organization")
	}
	return account.Organization{ID: coditect.TenantID(r.ID), Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}
