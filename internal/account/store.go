package account

import (
	"context"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Invitation asks someone, by email, to join an organization with a role.
type Invitation struct {
	ID         coditect.InvitationID `json:"id"`
	Email      string                `json:"email"`
	Role       coditect.Role         `json:"role"`
	InvitedBy  *coditect.AccountID   `json:"invited_by"`
	TokenHash  []byte                `json:"-"`
	CreatedAt  time.Time             `json:"created_at"`
	ExpiresAt  time.Time             `json:"expires_at"`
	AcceptedAt *time.Time            `json:"accepted_at"`
	AcceptedBy *coditect.AccountID   `json:"accepted_by"`
	RevokedAt  *time.Time            `json:"revoked_at"`
}

// APIKey is an organization's credential for scripts, acting with its role. Only a
// hash of the secret is kept; Prefix finds the key without a scan.
type APIKey struct {
	ID         coditect.APIKeyID   `json:"id"`
	Name       string              `json:"name"`
	Prefix     string              `json:"prefix"`
	SecretHash []byte              `json:"-"`
	Role       coditect.Role       `json:"role"`
	CreatedBy  *coditect.AccountID `json:"created_by"`
	CreatedAt  time.Time           `json:"created_at"`
	LastUsedAt *time.Time          `json:"last_used_at"`
	ExpiresAt  *time.Time          `json:"expires_at"`
	RevokedAt  *time.Time          `json:"revoked_at"`
}

// Page asks for up to Limit items after the position (CreatedAt, ID).
type Page struct {
	Limit     int
	CreatedAt time.Time
	ID        [16]byte
}

// TenantReader is what account reads, each in the context's tenant.
type TenantReader interface {
	OrganizationGet(ctx context.Context) (Organization, error)
	MembershipGet(ctx context.Context, id coditect.AccountID) (Membership, error)
	MembershipList(ctx context.Context, p Page) ([]Membership, error)
	InvitationList(ctx context.Context, p Page) ([]Invitation, error)
	APIKeyList(ctx context.Context, p Page) ([]APIKey, error)
	APIKeyGet(ctx context.Context, id coditect.APIKeyID) (APIKey, error)
}

// Lookups resolve global values (slugs, tokens, key prefixes) to a tenant.
type Lookups interface {
	TenantBySlug(ctx context.Context, slug string) (coditect.TenantID, error)
	InvitationByToken(ctx context.Context, hash []byte) (coditect.TenantID, coditect.InvitationID, error)
	APIKeyByPrefix(ctx context.Context, prefix string) (coditect.TenantID, coditect.APIKeyID, error)
	// AccountProfiles returns the name and email of each existing account in ids.
	AccountProfiles(ctx context.Context, ids []coditect.AccountID) (map[coditect.AccountID]Profile, error)
	// APIKeysTouch records last use times, batched (never one write per request).
	APIKeysTouch(ctx context.Context, used map[coditect.TenantID]map[coditect.APIKeyID]time.Time) error
}

// TenantTx is everything account changes inside one tenant-scoped transaction. It
// extends Tx (onboarding) with members, invitations and API keys.
type TenantTx interface {
	Tx
	OrganizationTx
	Enqueue(ctx context.Context, job coditect.TenantBoundJob) error
	// MembershipOwnersForUpdate locks the tenant's owner memberships and counts them,
	// so two concurrent demotions cannot both pass the last-owner rule.
	MembershipOwnersForUpdate(ctx context.Context) (int, error)
	MembershipGetForUpdate(ctx context.Context, id coditect.AccountID) (Membership, error)
	// SeatCount counts the tenant's members and its live pending invitations.
	SeatCount(ctx context.Context) (members, pending int64, err error)
	MembershipUpdateRole(ctx context.Context, id coditect.AccountID, role coditect.Role) error
	MembershipDelete(ctx context.Context, id coditect.AccountID) error
	InvitationCreate(ctx context.Context, inv Invitation) error
	InvitationGetForUpdate(ctx context.Context, id coditect.InvitationID) (Invitation, error)
	InvitationAccept(ctx context.Context, id coditect.InvitationID, by coditect.AccountID) error
	InvitationRevoke(ctx context.Context, id coditect.InvitationID) error
	// InvitationSetToken replaces the invitation's token hash and its global lookup row.
	InvitationSetToken(ctx context.Context, id coditect.InvitationID, hash []byte, expires time.Time) error
	APIKeyCreate(ctx context.Context, k APIKey) error
	APIKeyRevoke(ctx context.Context, id coditect.APIKeyID) error

	// Deleting the organization (DeleteOrganization), all in its one transaction.

	// OrganizationMarkDeleted sets the organization's deleted_at and returns it; not
	// found when it is already deleted.
	OrganizationMarkDeleted(ctx context.Context) (Organization, error)
	// MembershipDeleteAll removes every membership and its account-keyed index row,
	// returning how many of each went.
	MembershipDeleteAll(ctx context.Context) (members, index int64, err error)
	APIKeyRevokeAll(ctx context.Context) (int64, error)
	OAuthClientRevokeAll(ctx context.Context) (int64, error)
	// InvitationRevokeAll revokes every pending invitation.
	InvitationRevokeAll(ctx context.Context) (int64, error)
	TenantDeletionCreate(ctx context.Context, d TenantDeletion) error
}
