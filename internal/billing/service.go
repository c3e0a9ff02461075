package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// Config is how billing is set up.
type Config struct {
	// Prices maps a plan id to its Stripe price id; a plan without one cannot be bought.
	Prices map[string]string
	// SuccessURL and CancelURL are where Checkout sends the customer back; ReturnURL is
	// where the portal does.
	SuccessURL, CancelURL, ReturnURL string
	// GracePeriod is how long a past-due subscription keeps its plan (default 7 days).
	GracePeriod time.Duration
	// SeatDebounce is how long seat changes gather before one update (default 10s).
	SeatDebounce time.Duration
	// MeterEventName is the Stripe meter's event name API calls are reported under;
	// empty: usage is not reported.
	MeterEventName string
}

// Service is billing. Build it with NewService.
type Service struct {
	store   Store
	gateway Gateway // nil: Stripe is not configured
	cache   Cache   // nil: no cache
	mailer  Mailer  // nil: no emails
	cfg     Config
	plans   map[string]string // price id → plan id
	now     func() time.Time
	log     *slog.Logger
}

// Deps are the Service's collaborators; only Store is required.
type Deps struct {
	Store   Store
	Gateway Gateway
	Cache   Cache
	Mailer  Mailer
	Log     *slog.Logger
	Now     func() time.Time
}

// NewService returns billing over d, configured by cfg.
func NewService(d Deps, cfg Config) *Service {
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = 7 * 24 * time.Hour
	}
	if cfg.SeatDebounce <= 0 {
		cfg.SeatDebounce = 10 * time.Second
	}
	s := &Service{store: d.Store, gateway: d.Gateway, cache: d.Cache, mailer: d.Mailer, cfg: cfg, plans: map[string]string{},
		now: d.Now, log: d.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for plan, price := range cfg.Prices {
		if price != "" {
			s.plans[price] = plan
		}
	}
	return s
}

// Configured reports whether Stripe is set up.
func (s *Service) Configured() bool { return s.gateway != nil }

func notConfigured() error {
	return &coditect.Error{Code: coditect.CodeBillingNotConfigured, Kind: coditect.CodeUnavailable,
		Message: "billing is not configured on this server (no STRIPE_SECRET_KEY)"}
}

func authorize(ctx context.Context, a coditect.Action) error {
	actor, _ := coditect.ActorFrom(ctx)
	return coditect.Authorize(actor, a)
}

// Plans lists the plans with their entitlements, cheapest first. Admin or higher.
func (s *Service) Plans(ctx context.Context) ([]Plan, error) {
	if err := authorize(ctx, coditect.ActReadBilling); err != nil {
		return nil, err
	}
	plans, err := s.store.Plans(ctx)
	if err != nil {
		return nil, err
	}
	for i := range plans {
		plans[i].Purchasable = s.gateway != nil && s.cfg.Prices[plans[i].ID] != ""
	}
	return plans, nil
}

// SubscriptionView is the subscription as the API shows it.
type SubscriptionView struct {
	Subscription
	EffectivePlan string       `json:"effective_plan"`
	Entitlements  Entitlements `json:"entitlements"`
	Configured    bool         `json:"billing_configured"`
}

// Subscription returns the organization's subscription (status "none" and plan free
// without one) and the entitlements in force. Admin or higher.
func (s *Service) Subscription(ctx context.Context) (SubscriptionView, error) {
	if err := authorize(ctx, coditect.ActReadBilling); err != nil {
		return SubscriptionView{}, err
	}
	sub, err := s.subscription(ctx)
	if err != nil {
		return SubscriptionView{}, err
	}
	ent, err := s.entitlementsOf(ctx, sub.EffectivePlan())
	if err != nil {
		return SubscriptionView{}, err
	}
	return SubscriptionView{Subscription: sub, EffectivePlan: sub.EffectivePlan(), Entitlements: ent, Configured: s.Configured()}, nil
}

// subscription reads the tenant's subscription; none is {Plan: free, Status: none}.
func (s *Service) subscription(ctx context.Context) (Subscription, error) {
	sub, err := s.store.Subscription(ctx)
	if coditect.IsNotFound(err) {
		return Subscription{Plan: FreePlan, Status: "none"}, nil
	}
	return sub, err
}

// Entitlements returns what the context tenant's plan allows right now: the free
// plan's when it has no live subscription. Cheap (two small reads), needs no role, and
// is safe to cache for a short while.
func (s *Service) Entitlements(ctx context.Context) (Entitlements, error) {
	sub, err := s.subscription(ctx)
	if err != nil {
		return Entitlements{}, err
	}
	return s.entitlementsOf(ctx, sub.EffectivePlan())
}

func (s *Service) entitlementsOf(ctx context.Context, plan string) (Entitlements, error) {
	plans, err := s.store.Plans(ctx)
	if err != nil {
		return Entitlements{}, err
	}
	for _, p := range plans {
		if p.ID == plan {
			return p.Entitlements, nil
		}
	}
	return Entitlements{}, fmt.Errorf("billing: plan %q is not in the plan table", plan)
}

// Quota returns the context tenant's limit for q (negative Max: none).
func (s *Service) Quota(ctx context.Context, q coditect.Quota) (coditect.Limit, error) {
	e, err := s.Entitlements(ctx)
	if err != nil {
		return coditect.Limit{}, err
	}
	return e.Limit(q), nil
}

// Invoices lists the organization's recent invoices from Stripe (cached briefly).
// Admin or higher; billing.not_configured without Stripe.
func (s *Service) Invoices(ctx context.Context) ([]Invoice, error) {
	if err := authorize(ctx, coditect.ActReadBilling); err != nil {
		return nil, err
	}
	if s.gateway == nil {
		return nil, notConfigured()
	}
	actor, _ := coditect.ActorFrom(ctx)
	if s.cache != nil {
		if inv, ok := s.cache.Invoices(ctx, actor.Tenant); ok {
			return inv, nil
		}
	}
	cust, err := s.store.Customer(ctx)
	if coditect.IsNotFound(err) {
		return []Invoice{}, nil // never checked out: no invoices
	}
	if err != nil {
		return nil, err
	}
	inv, err := s.gateway.Invoices(ctx, cust, 24)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.SetInvoices(ctx, actor.Tenant, inv)
	}
	return inv, nil
}

// customer returns the tenant's Stripe customer, creating it at Stripe and storing it
// on first use. The idempotency key is the tenant's, so two concurrent first uses (or
// a retry after a lost answer) get the same customer from Stripe.
func (s *Service) customer(ctx context.Context) (string, error) {
	cust, err := s.store.Customer(ctx)
	if err == nil || !coditect.IsNotFound(err) {
		return cust, err
	}
	actor, _ := coditect.ActorFrom(ctx)
	name, err := s.store.OrganizationName(ctx)
	if err != nil {
		return "", err
	}
	created, err := s.gateway.CreateCustomer(ctx, actor.Tenant, name, "coditect-customer-"+actor.Tenant.String())
	if err != nil {
		return "", err
	}
	err = s.store.InBillingTx(ctx, func(tx Tx) error {
		stored, err := tx.CustomerSave(ctx, created)
		if err != nil {
			return err
		}
		cust = stored
		if stored != created {
			return nil
		}
		return auditRow(ctx, tx, "billing.customer_create", "billing_customer", created, nil)
	})
	return cust, err
}

// Checkout starts buying plan: a Stripe Checkout Session in subscription mode with
// one seat per member, and its URL. Owner only; billing.not_configured without Stripe.
func (s *Service) Checkout(ctx context.Context, plan string) (string, error) {
	if err := authorize(ctx, coditect.ActManageBilling); err != nil {
		return "", err
	}
	plan = strings.TrimSpace(plan)
	if s.gateway == nil {
		return "", notConfigured()
	}
	price := s.cfg.Prices[plan]
	if price == "" {
		return "", coditect.Invalid(coditect.FieldError{Field: "plan", Message: "must be a plan that can be bought: " + strings.Join(s.purchasable(), ", ")})
	}
	// One subscription per organization: a second checkout would bill twice.
	sub, err := s.store.Subscription(ctx)
	if err != nil && !coditect.IsNotFound(err) {
		return "", err
	}
	if err == nil && liveStatuses[sub.Status] {
		return "", &coditect.Error{Code: coditect.CodeBillingAlreadySubscribed, Kind: coditect.CodeConflict,
			Message: "the organization already has a subscription (" + sub.Status + "); change its plan or seats in the billing portal (POST /v1/orgs/{org}/billing/portal)"}
	}
	seats, err := s.store.MemberCount(ctx)
	if err != nil {
		return "", err
	}
	cust, err := s.customer(ctx)
	if err != nil {
		return "", err
	}
	actor, _ := coditect.ActorFrom(ctx)
	url, err := s.gateway.CreateCheckoutSession(ctx, CheckoutParams{CustomerID: cust, Tenant: actor.Tenant, PriceID: price,
		Quantity: max(seats, 1), SuccessURL: s.cfg.SuccessURL, CancelURL: s.cfg.CancelURL})
	if err != nil {
		return "", err
	}
	return url, nil
}

// purchasable lists the plans with a configured price, for a field error.
func (s *Service) purchasable() []string {
	var out []string
	for _, plan := range s.plans {
		out = append(out, plan)
	}
	if len(out) == 0 {
		return []string{"(none configured)"}
	}
	slices.Sort(out)
	return out
}

// Portal returns a Stripe Customer Portal URL for the organization. Owner only.
func (s *Service) Portal(ctx context.Context) (string, error) {
	if err := authorize(ctx, coditect.ActManageBilling); err != nil {
		return "", err
	}
	if s.gateway == nil {
		return "", notConfigured()
	}
	cust, err := s.customer(ctx)
	if err != nil {
		return "", err
	}
	return s.gateway.CreatePortalSession(ctx, cust, s.cfg.ReturnURL)
}

// auditRow writes one audit row for a billing change.
func auditRow(ctx context.Context, tx Tx, action, targetType, targetID string, changes map[string]any) error {
	e, err := audit.NewEntry(ctx, action, targetType, targetID, changes)
	if err != nil {
		return err
	}
	return tx.AuditLogInsert(ctx, e)
}

// ErrNotDue says a scheduled job ran before its time; the worker snoozes it until At.
type ErrNotDue struct{ At time.Time }

func (e ErrNotDue) Error() string { return "not due before " + e.At.UTC().Format(time.RFC3339) }

// IsNotDue returns the time a job should run again when err is ErrNotDue.
func IsNotDue(err error) (time.Time, bool) {
	var nd ErrNotDue
	if errors.As(err, &nd) {
		return nd.At, true
	}
	return time.Time{}, false
}
