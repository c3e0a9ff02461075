package account

import (
	"context"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// TenantDeletion is the record of an organization's deletion. It outlives the tenant:
// it is not tenant data, and the eraser never removes it.
type TenantDeletion struct {
	OrganizationID coditect.TenantID   `json:"organization_id"`
	Slug           string              `json:"slug"`
	Name           string              `json:"name"`
	Domains        []string            `json:"domains"` // the host names to free once the tenant is erased
	RequestedBy    *coditect.AccountID `json:"requested_by"`
	RequestedAt    time.Time           `json:"requested_at"`
	StartedAt      *time.Time          `json:"started_at"`
	CompletedAt    *time.Time          `json:"completed_at"`
	RowsDeleted    map[string]int64    `json:"rows_deleted"` // per table
}

// ErasedBatch is what one erase step did: it removed Rows rows of Table (and their
// global lookup rows), or, with Done, found nothing left and finished the erasure.
type ErasedBatch struct {
	Table string
	Rows  int64
	Done  bool
}

// ErasureStore is what erasing a deleted organization needs. Each EraseTenantBatch
// call is its own transaction in the context's tenant: a crash loses at most the
// batch in flight, and calling it again carries on where the last commit stopped.
type ErasureStore interface {
	// TenantDeletionGet returns the deletion record of the context's tenant; not
	// found when the organization was never deleted.
	TenantDeletionGet(ctx context.Context) (TenantDeletion, error)
	// EraseTenantBatch deletes up to limit rows of the first table (in foreign-key
	// order) that still has rows of the context's tenant. With none left it deletes
	// the organization row, frees the slug and domains and stamps completed_at. It
	// refuses (not found) a tenant without a deletion record.
	EraseTenantBatch(ctx context.Context, limit int) (ErasedBatch, error)
}

// EraseArgs is the job that erases a deleted organization's rows. It carries only the
// tenant; the rest is in the deletion record.
type EraseArgs struct {
	coditect.TenantJob
}

// Kind implements coditect.Job.
func (EraseArgs) Kind() string { return "account.erase_tenant" }

// DefaultEraseBatch is how many rows one erase transaction deletes.
const DefaultEraseBatch = 1000

// DeleteOrganization deletes the context's organization (owner only; people, not API
// keys or OAuth clients). In one transaction it marks the organization deleted, removes
// every membership (and the account-keyed index rows), revokes every API key, OAuth
// client and pending invitation, writes the deletion record and the audit row, and
// enqueues the jobs that cancel its Stripe subscription (with billing) and erase the
// tenant's rows. From the commit on nobody reaches the organization: members resolve
// it as not found and its keys are revoked. The HTTP layer answers 202 Accepted.
func (s *Service) DeleteOrganization(ctx context.Context) error {
	return s.DeleteOrganizationIfMatch(ctx, "")
}

// DeleteOrganizationIfMatch is DeleteOrganization with a precondition: a non-empty
// ifMatch must match the organization's ETag (OrganizationETag) as it is inside the
// deleting transaction, or nothing changes (precondition failed).
func (s *Service) DeleteOrganizationIfMatch(ctx context.Context, ifMatch string) error {
	a := actorOf(ctx)
	if err := coditect.Authorize(a, coditect.ActDeleteOrganization); err != nil {
		return err
	}
	if a.Kind != coditect.ActorAccount && a.Kind != coditect.ActorSystem {
		return coditect.Errorf(coditect.CodeForbidden, "only a person who owns the organization can delete it")
	}
	return s.store.InTenantTx(ctx, func(tx TenantTx) error {
		if strings.TrimSpace(ifMatch) != "" {
			cur, err := tx.OrganizationGetForUpdate(ctx)
			if err != nil {
				return err
			}
			if !etagMatches(ifMatch, OrganizationETag(cur)) {
				return preconditionFailed()
			}
		}
		org, err := tx.OrganizationMarkDeleted(ctx)
		if err != nil {
			return err
		}
		members, index, err := tx.MembershipDeleteAll(ctx)
		if err != nil {
			return err
		}
		keys, err := tx.APIKeyRevokeAll(ctx)
		if err != nil {
			return err
		}
		clients, err := tx.OAuthClientRevokeAll(ctx)
		if err != nil {
			return err
		}
		invitations, err := tx.InvitationRevokeAll(ctx)
		if err != nil {
			return err
		}
		d := TenantDeletion{OrganizationID: org.ID, Slug: org.Slug, Name: org.Name, Domains: []string{org.Slug + "." + s.domain},
			RowsDeleted: map[string]int64{"memberships": members, "account_memberships": index}}
		if a.Kind == coditect.ActorAccount {
			id := a.AccountID
			d.RequestedBy = &id
		}
		if err := tx.TenantDeletionCreate(ctx, d); err != nil {
			return err
		}
		if err := auditRow(ctx, tx, "organization.delete", "organization", org.ID.String(), map[string]any{
			"slug": org.Slug, "name": org.Name, "members_removed": members, "api_keys_revoked": keys,
			"oauth_clients_revoked": clients, "invitations_revoked": invitations,
		}); err != nil {
			return err
		}
		if err := s.cancelSubscription(ctx, tx); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &EraseArgs{})
	})
}

// cancelSubscription enqueues, in the deletion's transaction, the job that cancels the
// organization's paid subscription: the erasure removes the rows that name it, and
// Stripe would otherwise go on billing an organization that no longer exists.
func (s *Service) cancelSubscription(ctx context.Context, tx TenantTx) error {
	if s.billing == nil {
		return nil
	}
	job, err := s.billing.SubscriptionCancelJob(ctx)
	if err != nil || job == nil {
		return err
	}
	return tx.Enqueue(ctx, job)
}

// EraseTenant erases every row of the context's tenant, a deleted organization, batch
// rows per transaction (DefaultEraseBatch if batch <= 0), and returns the finished
// deletion record. Only the system (the erase job) runs it. It is idempotent and
// resumable: after a crash or a cancelled context, calling it again continues from the
// last committed batch. A tenant that was never deleted is not found and nothing is
// touched.
func EraseTenant(ctx context.Context, store ErasureStore, batch int) (TenantDeletion, error) {
	a := actorOf(ctx)
	if a.Tenant.IsZero() {
		return TenantDeletion{}, coditect.Errorf(coditect.CodeNoTenant, "no tenant in context")
	}
	if a.Kind != coditect.ActorSystem {
		return TenantDeletion{}, coditect.Errorf(coditect.CodeForbidden, "only the erase job erases an organization")
	}
	if batch <= 0 {
		batch = DefaultEraseBatch
	}
	for {
		b, err := store.EraseTenantBatch(ctx, batch)
		if err != nil {
			return TenantDeletion{}, err
		}
		if b.Done {
			break
		}
		if err := ctx.Err(); err != nil {
			return TenantDeletion{}, err
		}
	}
	return store.TenantDeletionGet(ctx)
}
