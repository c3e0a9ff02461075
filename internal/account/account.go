// Package account holds organizations (the tenants), the accounts that sign in, and the
// memberships that join them with a role.
package account

import (
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Organization is a tenant. Its ID is the tenant_id of every row it owns.
type Organization struct {
	ID        coditect.TenantID `json:"id"`
	Slug      string            `json:"slug"`
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Account is a person's global identity; one email, one account.
type Account struct {
	ID              coditect.AccountID `json:"id"`
	Email           string             `json:"email"`
	Name            string             `json:"name"`
	PasswordHash    string             `json:"-"`
	EmailVerifiedAt *time.Time         `json:"email_verified_at"`
	CreatedAt       time.Time          `json:"created_at"`
}

// Membership joins an account to an organization with a role.
type Membership struct {
	Tenant    coditect.TenantID  `json:"organization_id"`
	AccountID coditect.AccountID `json:"account_id"`
	Role      coditect.Role      `json:"role"`
	CreatedAt time.Time          `json:"created_at"`
	// Name and Email are the member's, filled in by member lists (omitted elsewhere).
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Profile is what a member list shows of an account.
type Profile struct {
	Name  string
	Email string
}
