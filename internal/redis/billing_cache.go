package redis

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
)

var _ billing.Cache = BillingCache{}

// billingInvoicesTTL keeps a tenant's invoice list for about a minute: Stripe is not
// asked on every page view, and a paid invoice shows up soon.
const billingInvoicesTTL = 60 * time.Second

// BillingCache is billing.Cache in Redis: a tenant's invoice list as JSON under
// TenantKey(tenant, "billing", "invoices", "v1"). Any Redis error is a miss (the
// caller asks Stripe), never a failure.
type BillingCache struct {
	Client Client
	TTL    time.Duration // billingInvoicesTTL when zero
}

func invoicesKey(t coditect.TenantID) string { return TenantKey(t, "billing", "invoices", "v1") }

// Invoices implements billing.Cache.
func (c BillingCache) Invoices(ctx context.Context, tenant coditect.TenantID) ([]billing.Invoice, bool) {
	raw, err := c.Client.Get(ctx, invoicesKey(tenant)).Bytes()
	if err != nil {
		return nil, false
	}
	var out []billing.Invoice
	if json.Unmarshal(raw, &out) != nil {
		return nil, false
	}
	return out, true
}

// SetInvoices implements billing.Cache.
func (c BillingCache) SetInvoices(ctx context.Context, tenant coditect.TenantID, inv []billing.Invoice) {
	raw, err := json.Marshal(inv)
	if err != nil {
		return
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = billingInvoicesTTL
	}
	_ = c.Client.Set(ctx, invoicesKey(tenant), raw, ttl).Err()
}
