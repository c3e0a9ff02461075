// Package billing is what organizations pay for and what their plan allows (issue 7):
// plans and their entitlements, a Stripe customer and subscription per organization,
// Checkout and the Customer Portal, webhook events applied in order, seat counts kept
// in step with members, dunning, and API usage reported to Stripe as meter events.
//
// The package never talks to Stripe, PostgreSQL or Redis itself: it declares what it
// needs (Store, Gateway, Cache, Mailer) and internal/stripe, internal/postgres and
// internal/redis implement it. Without a Gateway (no STRIPE_SECRET_KEY, the `dev`
// default) every organization is on the free plan, plans, subscription and usage stay
// readable, and checkout, portal, invoices and webhooks answer billing.not_configured.
package billing

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// FreePlan is the plan of an organization without a live subscription.
const FreePlan = "free"

// Entitlements are what a plan allows. A nil limit is no limit.
type Entitlements struct {
	Plan               string `json:"plan"`
	MaxMembers         *int64 `json:"max_members"`
	MaxProjects        *int64 `json:"max_projects"`
	APIRateLimit       int64  `json:"api_rate_limit"` // requests per minute
	ExportAllowed      bool   `json:"export_allowed"`
	AuditRetentionDays int64  `json:"audit_retention_days"`
}

// Limit returns the entitlement for quota as a coditect.Limit (negative Max: none).
func (e Entitlements) Limit(q coditect.Quota) coditect.Limit {
	var max *int64
	switch q {
	case coditect.QuotaMembers:
		max = e.MaxMembers
	case coditect.QuotaProjects:
		max = e.MaxProjects
	}
	l := coditect.Limit{Quota: q, Max: -1, Plan: e.Plan}
	if max != nil {
		l.Max = *max
	}
	return l
}

// Plan is one row of the plan table with its entitlements.
type Plan struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Position int    `json:"-"`
	// Purchasable: a Stripe price is configured, so checkout can sell it.
	Purchasable bool `json:"purchasable"`
	Entitlements
}

// Subscription statuses from Stripe that keep the paid plan's entitlements. Every
// other status (canceled, unpaid, incomplete, incomplete_expired, paused) means free.
var liveStatuses = map[string]bool{"active": true, "trialing": true, "past_due": true}

// Event ranks order subscription events with the same creation second.
const (
	rankCreated = 1
	rankUpdated = 2
	rankDeleted = 3
)

// Subscription is an organization's subscription as Stripe last told us.
type Subscription struct {
	StripeSubscriptionID string     `json:"-"`
	Plan                 string     `json:"plan"`
	Status               string     `json:"status"`
	Quantity             int64      `json:"quantity"`
	CurrentPeriodEnd     *time.Time `json:"current_period_end"`
	CancelAtPeriodEnd    bool       `json:"cancel_at_period_end"`
	TrialEnd             *time.Time `json:"trial_end"`
	PastDueSince         *time.Time `json:"past_due_since"`
	DowngradedAt         *time.Time `json:"downgraded_at"`
	StateAt              time.Time  `json:"-"` // the creation time of the event that set it
	StateRank            int        `json:"-"`
}

// SubscriptionRow is the subscription as an event handler's transaction locks and
// writes it: with the dunning mark, which only event handling reads.
type SubscriptionRow struct {
	Subscription
	// DunningAt is the creation time of the newest event that changed the payment
	// standing (an invoice paid or failed, a subscription event saying active or
	// trialing); an invoice event older than it arrived late and is ignored.
	DunningAt *time.Time
}

// EffectivePlan is the plan whose entitlements apply: the subscribed one while the
// subscription is live and not downgraded by dunning, otherwise free.
func (s Subscription) EffectivePlan() string {
	if s.Plan == "" || !liveStatuses[s.Status] || s.DowngradedAt != nil {
		return FreePlan
	}
	return s.Plan
}

// newer reports whether a state set by an event at (at, rank) may replace s.
func (s Subscription) newer(at time.Time, rank int) bool {
	return at.After(s.StateAt) || (at.Equal(s.StateAt) && rank >= s.StateRank)
}

// Invoice is one of the organization's Stripe invoices.
type Invoice struct {
	ID               string    `json:"id"`
	Number           string    `json:"number"`
	Status           string    `json:"status"`
	Currency         string    `json:"currency"`
	AmountDue        int64     `json:"amount_due"` // in the currency's smallest unit
	AmountPaid       int64     `json:"amount_paid"`
	Created          time.Time `json:"created"`
	HostedInvoiceURL string    `json:"hosted_invoice_url"`
	InvoicePDF       string    `json:"invoice_pdf"`
}

// Event is a verified Stripe webhook event, decoded into what billing acts on.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	Payload json.RawMessage // the event as received, kept for processing

	CustomerID      string // the customer the object belongs to
	ClientReference string // checkout.session.completed: the tenant id we sent
	// Subscription is set for customer.subscription.* events (and re-fetched state).
	Subscription *StripeSubscription
	// SubscriptionID names the subscription of an invoice or checkout session.
	SubscriptionID string
}

// StripeSubscription is a subscription object from Stripe.
type StripeSubscription struct {
	ID                string
	PriceID           string // the first item's price
	Status            string
	Quantity          int64
	CurrentPeriodEnd  *time.Time
	CancelAtPeriodEnd bool
	TrialEnd          *time.Time
}

// CheckoutParams is a Checkout Session to create.
type CheckoutParams struct {
	CustomerID string
	Tenant     coditect.TenantID // sent as client_reference_id and metadata
	PriceID    string
	Quantity   int64
	SuccessURL string
	CancelURL  string
}

// MeterEvent is one tenant's API calls of one UTC day, for Stripe's meter.
type MeterEvent struct {
	EventName  string
	CustomerID string
	Identifier string // unique per tenant and day: Stripe drops a repeat
	Value      int64
	Timestamp  time.Time
}

// Gateway is Stripe (internal/stripe.Client).
type Gateway interface {
	// CreateCustomer creates the organization's customer; the same idempotency key
	// returns the first customer again.
	CreateCustomer(ctx context.Context, tenant coditect.TenantID, name, idempotencyKey string) (string, error)
	CreateCheckoutSession(ctx context.Context, p CheckoutParams) (string, error)
	CreatePortalSession(ctx context.Context, customerID, returnURL string) (string, error)
	Invoices(ctx context.Context, customerID string, limit int) ([]Invoice, error)
	Subscription(ctx context.Context, id string) (StripeSubscription, error)
	// SetQuantity sets the seat count of the subscription's first item.
	SetQuantity(ctx context.Context, subscriptionID string, quantity int64, idempotencyKey string) error
	ReportUsage(ctx context.Context, e MeterEvent) error
	// CancelSubscription cancels a subscription immediately. A subscription that is
	// already canceled, or unknown to Stripe, is not an error: the call is idempotent.
	CancelSubscription(ctx context.Context, id string) error
	// VerifyEvent checks a webhook's Stripe-Signature over the raw payload (with the
	// tolerance window) and reads only the envelope (ID, Type, Created, Payload), so an
	// authentic event is always recorded; a bad signature or a payload that is not an
	// event is a malformed error.
	VerifyEvent(payload []byte, signature string) (Event, error)
	// DecodeEvent decodes a recorded payload fully (the processing job); an object that
	// is not what its type says is a malformed error, and the job retries visibly.
	DecodeEvent(payload []byte) (Event, error)
}

// Cache keeps Stripe answers briefly (internal/redis.BillingCache). A miss or any
// cache error is (nil, false); Set failures are ignored.
type Cache interface {
	Invoices(ctx context.Context, tenant coditect.TenantID) ([]Invoice, bool)
	SetInvoices(ctx context.Context, tenant coditect.TenantID, inv []Invoice)
}

// Notice is an email to an organization's owners about its billing.
type Notice struct {
	Kind             string // NoticePaymentFailed or NoticeTrialEnding
	OrganizationName string
	Date             time.Time // the downgrade date, or the trial's end
}

// The notices billing sends.
const (
	NoticePaymentFailed = "payment_failed"
	NoticeTrialEnding   = "trial_will_end"
)

// Mailer builds the job that emails a notice to one address (a mail.SendArgs).
type Mailer func(to string, n Notice) (coditect.TenantBoundJob, error)

// CustomerRef is one organization with a Stripe customer.
type CustomerRef struct {
	CustomerID string
	Tenant     coditect.TenantID
}

// Store is billing's persistence (postgres.BillingStore). Tenant methods work in the
// context's tenant; the others are marked.
type Store interface {
	// Plans lists every plan, cheapest first (reference data; no tenant needed).
	Plans(ctx context.Context) ([]Plan, error)
	// Subscription returns the tenant's subscription; not found when it has none.
	Subscription(ctx context.Context) (Subscription, error)
	// Customer returns the tenant's Stripe customer id; not found when it has none.
	Customer(ctx context.Context) (string, error)
	// UsageReportedThrough returns the last day reported to Stripe (zero: none).
	UsageReportedThrough(ctx context.Context) (time.Time, error)
	// MemberCount counts the tenant's members.
	MemberCount(ctx context.Context) (int64, error)
	// OwnerEmails lists the email addresses of the tenant's owners.
	OwnerEmails(ctx context.Context) ([]string, error)
	// OrganizationName returns the tenant's organization name.
	OrganizationName(ctx context.Context) (string, error)
	// UsageDays is usage.Reader's: the tenant's API calls per day in [since, until).
	UsageDays(ctx context.Context, since, until time.Time) ([]usage.Day, error)
	// InBillingTx runs fn in one transaction scoped to the context's tenant.
	InBillingTx(ctx context.Context, fn func(Tx) error) error

	// TenantByStripeCustomer resolves a customer (global lookup); not found if unknown.
	TenantByStripeCustomer(ctx context.Context, customerID string) (coditect.TenantID, error)
	// StripeCustomersPage pages through every organization with a customer, by
	// customer id after after (a system read).
	StripeCustomersPage(ctx context.Context, after string, limit int) ([]CustomerRef, error)
	// StripeEventRecord records a received event and enqueues job in the same
	// transaction; false (and no job) when the event id was recorded before.
	StripeEventRecord(ctx context.Context, e Event, job coditect.Job) (bool, error)
	// StripeEventPayload returns a recorded event's payload; not found if unknown.
	StripeEventPayload(ctx context.Context, id string) (json.RawMessage, error)
	// StripeEventDone marks a recorded event processed, with what came of it.
	StripeEventDone(ctx context.Context, id, outcome string) error
}

// Tx is what billing changes inside one tenant-scoped transaction.
type Tx interface {
	// CustomerSave stores the tenant's customer and its global lookup, unless it has one
	// already; it returns the customer that is stored.
	CustomerSave(ctx context.Context, customerID string) (string, error)
	// SubscriptionGetForUpdate reads and locks the subscription; not found if none.
	SubscriptionGetForUpdate(ctx context.Context) (SubscriptionRow, error)
	// SubscriptionPut inserts or replaces the tenant's subscription, unless the stored
	// one has a newer state (StateAt, then StateRank): then it answers false and
	// changes nothing.
	SubscriptionPut(ctx context.Context, s SubscriptionRow) (bool, error)
	// StripeEventClaim marks a recorded event processed with outcome, in this
	// transaction; false when it was processed already.
	StripeEventClaim(ctx context.Context, id, outcome string) (bool, error)
	// UsageReportedSet records the last day reported to Stripe.
	UsageReportedSet(ctx context.Context, through time.Time) error
	AuditLogInsert(ctx context.Context, e audit.Entry) error
	Enqueue(ctx context.Context, job coditect.TenantBoundJob) error
}
