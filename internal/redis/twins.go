package redis

import (
	"net/netip"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

type identitySession = identity.Session

// Cache twins: the same fields as the originals, every one of them in the JSON (the
// originals' API forms hide some). Converting between a type and its twin is a plain
// Go conversion, which stops compiling when the original gains or changes a field.

type cachedSession struct {
	ID                coditect.SessionID
	AccountID         coditect.AccountID
	RefreshHash       []byte
	CookieHash        []byte
	RefreshGeneration int
	UserAgent         string
	IP                *netip.Addr
	CreatedAt         time.Time
	LastUsedAt        time.Time
	ExpiresAt         time.Time
	RevokedAt         *time.Time
}

type cachedAPIKey struct {
	ID         coditect.APIKeyID
	Name       string
	Prefix     string
	SecretHash []byte
	Role       coditect.Role
	CreatedBy  *coditect.AccountID
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

type cachedMembership struct {
	Tenant    coditect.TenantID
	AccountID coditect.AccountID
	Role      coditect.Role
	CreatedAt time.Time
	Name      string
	Email     string
}

type cachedOrganization struct {
	ID        coditect.TenantID
	Slug      string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

type cachedSubscription struct {
	StripeSubscriptionID string
	Plan                 string
	Status               string
	Quantity             int64
	CurrentPeriodEnd     *time.Time
	CancelAtPeriodEnd    bool
	TrialEnd             *time.Time
	PastDueSince         *time.Time
	DowngradedAt         *time.Time
	StateAt              time.Time
	StateRank            int
}

type cachedPlan struct {
	ID          string
	Name        string
	Position    int
	Purchasable bool
	billing.Entitlements
}

// The conversions the caches rely on, checked by the compiler.
var (
	_ = cachedSession(identitySession{})
	_ = cachedAPIKey(account.APIKey{})
	_ = cachedMembership(account.Membership{})
	_ = cachedOrganization(account.Organization{})
	_ = cachedSubscription(billing.Subscription{})
	_ = cachedPlan(billing.Plan{})
)
