package account

import (
	"context"
	"regexp"
	"strings"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// Tx is what onboarding needs inside its one transaction.
type Tx interface {
	AccountCreate(ctx context.Context, a Account) error
	OrganizationCreate(ctx context.Context, o Organization, domain string) (Organization, error)
	MembershipCreate(ctx context.Context, id coditect.AccountID, role coditect.Role) error
	AuditLogInsert(ctx context.Context, e audit.Entry) error
	Enqueue(ctx context.Context, job coditect.TenantBoundJob) error
}

// Store runs fn in one transaction scoped to the context's tenant. The transaction
// offers everything account changes (TenantTx); onboarding uses only its Tx part.
type Store interface {
	InTenantTx(ctx context.Context, fn func(TenantTx) error) error
}

// OnboardParams describe a new account and its first organization.
type OnboardParams struct {
	Email        string
	Name         string
	PasswordHash string // already hashed: this package never sees a password
	OrgName      string
	Slug         string
	BaseDomain   string // the organization gets {slug}.{BaseDomain}
	// Welcome, if set, makes the job enqueued in the same transaction (the welcome email).
	Welcome func(Account) coditect.TenantBoundJob
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$`)

// reservedSlugs cannot name an organization: they are, or may become, our own hosts.
var reservedSlugs = map[string]bool{"www": true, "api": true, "admin": true, "app": true, "mail": true, "static": true,
	"auth": true, "login": true, "signup": true, "status": true, "docs": true, "help": true, "billing": true}

// ValidSlug reports whether s can name an organization: 3–40 of a-z, 0-9 and inner
// hyphens, and not reserved.
func ValidSlug(s string) bool { return slugPattern.MatchString(s) && !reservedSlugs[s] }

// Onboard creates an account, its organization (a new tenant), the owner membership,
// the organization's domain and the audit row, all in one transaction.
func Onboard(ctx context.Context, store Store, p OnboardParams) (Account, Organization, error) {
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	var fields []coditect.FieldError
	if !strings.Contains(p.Email, "@") || len(p.Email) > 254 {
		fields = append(fields, coditect.FieldError{Field: "email", Message: "must be an email address"})
	}
	if p.Name == "" || len(p.Name) > 200 {
		fields = append(fields, coditect.FieldError{Field: "name", Message: "must be 1 to 200 characters"})
	}
	if p.OrgName == "" || len(p.OrgName) > 200 {
		fields = append(fields, coditect.FieldError{Field: "organization_name", Message: "must be 1 to 200 characters"})
	}
	if !ValidSlug(p.Slug) {
		fields = append(fields, coditect.FieldError{Field: "organization_slug", Message: "must be 3 to 40 lowercase letters, digits or hyphens, and not reserved"})
	}
	if len(fields) > 0 {
		return Account{}, Organization{}, coditect.Invalid(fields...)
	}
	acc := Account{ID: coditect.NewID[coditect.AccountID](), Email: p.Email, Name: p.Name, PasswordHash: p.PasswordHash}
	org := Organization{ID: coditect.NewID[coditect.TenantID](), Slug: p.Slug, Name: p.OrgName}
	ctx = coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: acc.ID, Tenant: org.ID, Role: coditect.RoleOwner})
	err := store.InTenantTx(ctx, func(tx TenantTx) error {
		if err := tx.AccountCreate(ctx, acc); err != nil {
			return err
		}
		var err error
		if org, err = tx.OrganizationCreate(ctx, org, p.Slug+"."+p.BaseDomain); err != nil {
			return err
		}
		if err := tx.MembershipCreate(ctx, acc.ID, coditect.RoleOwner); err != nil {
			return err
		}
		e, err := audit.NewEntry(ctx, "organization.create", "organization", org.ID.String(), map[string]string{"name": org.Name, "slug": org.Slug})
		if err != nil {
			return err
		}
		if err := tx.AuditLogInsert(ctx, e); err != nil {
			return err
		}
		if p.Welcome != nil {
			return tx.Enqueue(ctx, p.Welcome(acc))
		}
		return nil
	})
	return acc, org, err
}
