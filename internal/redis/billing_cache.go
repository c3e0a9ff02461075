package redis

import (
	"context"
	"slices"
	"time"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
)

var _ billing.Cache = BillingCache{}

// billingInvoicesTTL keeps a tenant's invoice list for about a minute: Stripe is not
// asked on every page view, and a paid invoice shows up soon.
const billingInvoicesTTL = 60 * time.Second

// BillingCache is billing.Cache on the shared cache core: a tenant's invoice list
// under TenantKey(tenant, "billing", "invoices"), counted as a query-cache entry. It is
// Stripe's data, not ours, so writes in the tenant do not drop it; it expires. Any
// Redis error is a miss (the caller asks Stripe), never a failure.
type BillingCache struct{ cache *Cache }

// NewBillingCache returns the invoice cache on c.
func NewBillingCache(c *Cache) BillingCache { return BillingCache{cache: c} }

func invoicesKey(t coditect.TenantID) string { return TenantKey(t, "billing", "invoices") }

// Invoices implements billing.Cache.
func (c BillingCache) Invoices(ctx context.Context, tenant coditect.TenantID) ([]billing.Invoice, bool) {
	var out []billing.Invoice
	ok := c.cache.getGlobal(ctx, CacheQuery, invoicesKey(tenant), billingInvoicesTTL, &out)
	return out, ok
}

// SetInvoices implements billing.Cache.
func (c BillingCache) SetInvoices(ctx context.Context, tenant coditect.TenantID, inv []billing.Invoice) {
	c.cache.fillGlobal(ctx, invoicesKey(tenant), billingInvoicesTTL, inv)
}

// BillingStore is billing.Store with the reads behind every entitlement check cached:
// the tenant's subscription (or that it has none) in its query cache, dropped by any
// write in the tenant like every query-cache entry, and the plan table (reference
// data, changed only by migrations) for QueryTTL. Entitlements — and so the
// per-tenant rate limit and the plan limits — cost no database round trip while
// cached.
type BillingStore struct {
	billing.Store
	cache *Cache
	plans *local[[]billing.Plan] // the plan table in process too: read on every request
}

// localPlansTTL is how long a process keeps the plan table without asking Redis.
const localPlansTTL = time.Minute

// NewBillingStore wraps next with the query cache.
func NewBillingStore(next billing.Store, cache *Cache) *BillingStore {
	return &BillingStore{Store: next, cache: cache, plans: newLocal[[]billing.Plan](localPlansTTL, 1)}
}

// subscriptionEntry records a subscription, or that there is none.
type subscriptionEntry struct {
	Found bool
	Sub   cachedSubscription
}

// Subscription implements billing.Store.
func (s *BillingStore) Subscription(ctx context.Context) (billing.Subscription, error) {
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return billing.Subscription{}, err
	}
	var c subscriptionEntry
	st, hit := s.cache.Get(ctx, t, CacheQuery, "subscription", QueryTTL, &c)
	if hit {
		if !c.Found {
			return billing.Subscription{}, coditect.Errorf(coditect.CodeNotFound, "no subscription")
		}
		return billing.Subscription(c.Sub), nil
	}
	sub, err := s.Store.Subscription(ctx)
	switch {
	case err == nil:
		s.cache.Fill(ctx, st, QueryTTL, subscriptionEntry{Found: true, Sub: cachedSubscription(sub)})
	case coditect.IsNotFound(err):
		s.cache.Fill(ctx, st, QueryTTL, subscriptionEntry{})
	}
	return sub, err
}

// Plans implements billing.Store.
func (s *BillingStore) Plans(ctx context.Context) ([]billing.Plan, error) {
	now := s.cache.now()
	if plans, ok := s.plans.get("plans", now); ok {
		s.cache.m.result(CacheQuery, "hit")
		return slices.Clone(plans), nil
	}
	var cached []cachedPlan
	if s.cache.getGlobal(ctx, CacheQuery, Key("plans"), QueryTTL, &cached) && len(cached) > 0 {
		plans := make([]billing.Plan, len(cached))
		for i, p := range cached {
			plans[i] = billing.Plan(p)
		}
		s.plans.put("plans", plans, now)
		return slices.Clone(plans), nil
	}
	plans, err := s.Store.Plans(ctx)
	if err == nil {
		cached = make([]cachedPlan, len(plans))
		for i, p := range plans {
			cached[i] = cachedPlan(p)
		}
		s.cache.fillGlobal(ctx, Key("plans"), QueryTTL, cached)
		s.plans.put("plans", slices.Clone(plans), now)
	}
	return plans, err
}
