// Package stripe implements billing.Gateway with stripe-go: customers, Checkout and
// portal sessions, invoices, subscription quantities, meter events, and webhook
// signature verification. It is the only package that imports stripe-go.
package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	stripego "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
)

var _ billing.Gateway = (*Client)(nil)

// Config is how to reach Stripe.
type Config struct {
	SecretKey     string // sk_test_… / sk_live_… / rk_…
	WebhookSecret string // whsec_…
	// APIBase replaces https://api.stripe.com (stripe-mock in tests); empty: Stripe.
	APIBase string
	// Tolerance is how old a webhook signature may be (default 5 minutes).
	Tolerance time.Duration
	// HTTPClient sends the requests; nil: one with a 30 s timeout.
	HTTPClient *http.Client
}

// Client is billing's Stripe gateway.
type Client struct {
	sc        *stripego.Client
	secret    string
	tolerance time.Duration
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("stripe: no secret key")
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = webhook.DefaultTolerance
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	bc := &stripego.BackendConfig{HTTPClient: hc, LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull},
		MaxNetworkRetries: stripego.Int64(2)}
	if cfg.APIBase != "" {
		bc.URL = stripego.String(cfg.APIBase)
	}
	backends := &stripego.Backends{
		API:         stripego.GetBackendWithConfig(stripego.APIBackend, bc),
		Connect:     stripego.GetBackendWithConfig(stripego.ConnectBackend, bc),
		Uploads:     stripego.GetBackendWithConfig(stripego.UploadsBackend, bc),
		MeterEvents: stripego.GetBackendWithConfig(stripego.MeterEventsBackend, bc),
	}
	return &Client{sc: stripego.NewClient(cfg.SecretKey, stripego.WithBackends(backends)), secret: cfg.WebhookSecret,
		tolerance: cfg.Tolerance}, nil
}

// apiError turns a Stripe failure into a coditect error: Stripe unreachable or failing
// is unavailable (503, retried by jobs); a refused request is a conflict or invalid.
// Stripe's message goes to the log (Err), never to the caller.
func apiError(err error, what string) error {
	if err == nil {
		return nil
	}
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests {
		return &coditect.Error{Code: coditect.CodeConflict, Message: "Stripe refused to " + what, Err: err}
	}
	return &coditect.Error{Code: coditect.CodeUnavailable, Message: "Stripe is unavailable; try again shortly", Err: err}
}

// CreateCustomer implements billing.Gateway.
func (c *Client) CreateCustomer(ctx context.Context, tenant coditect.TenantID, name, idempotencyKey string) (string, error) {
	p := &stripego.CustomerCreateParams{Name: stripego.String(name)}
	p.AddMetadata("tenant_id", tenant.String())
	if idempotencyKey != "" {
		p.SetIdempotencyKey(idempotencyKey)
	}
	cust, err := c.sc.V1Customers.Create(ctx, p)
	if err != nil {
		return "", apiError(err, "create the customer")
	}
	return cust.ID, nil
}

// CreateCheckoutSession implements billing.Gateway.
func (c *Client) CreateCheckoutSession(ctx context.Context, cp billing.CheckoutParams) (string, error) {
	p := &stripego.CheckoutSessionCreateParams{
		Mode:              stripego.String(string(stripego.CheckoutSessionModeSubscription)),
		Customer:          stripego.String(cp.CustomerID),
		ClientReferenceID: stripego.String(cp.Tenant.String()),
		SuccessURL:        stripego.String(cp.SuccessURL),
		CancelURL:         stripego.String(cp.CancelURL),
		LineItems: []*stripego.CheckoutSessionCreateLineItemParams{{
			Price: stripego.String(cp.PriceID), Quantity: stripego.Int64(cp.Quantity)}},
		SubscriptionData: &stripego.CheckoutSessionCreateSubscriptionDataParams{
			Metadata: map[string]string{"tenant_id": cp.Tenant.String()}},
	}
	s, err := c.sc.V1CheckoutSessions.Create(ctx, p)
	if err != nil {
		return "", apiError(err, "start checkout")
	}
	return s.URL, nil
}

// CreatePortalSession implements billing.Gateway.
func (c *Client) CreatePortalSession(ctx context.Context, customerID, returnURL string) (string, error) {
	s, err := c.sc.V1BillingPortalSessions.Create(ctx, &stripego.BillingPortalSessionCreateParams{
		Customer: stripego.String(customerID), ReturnURL: stripego.String(returnURL)})
	if err != nil {
		return "", apiError(err, "open the customer portal")
	}
	return s.URL, nil
}

// Invoices implements billing.Gateway: the customer's newest invoices.
func (c *Client) Invoices(ctx context.Context, customerID string, limit int) ([]billing.Invoice, error) {
	p := &stripego.InvoiceListParams{Customer: stripego.String(customerID)}
	p.Limit = stripego.Int64(int64(limit))
	p.Single = true // one page
	out := []billing.Invoice{}
	for inv, err := range c.sc.V1Invoices.List(ctx, p).All(ctx) {
		if err != nil {
			return nil, apiError(err, "list invoices")
		}
		out = append(out, billing.Invoice{ID: inv.ID, Number: inv.Number, Status: string(inv.Status), Currency: string(inv.Currency),
			AmountDue: inv.AmountDue, AmountPaid: inv.AmountPaid, Created: time.Unix(inv.Created, 0).UTC(),
			HostedInvoiceURL: inv.HostedInvoiceURL, InvoicePDF: inv.InvoicePDF})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Subscription implements billing.Gateway.
func (c *Client) Subscription(ctx context.Context, id string) (billing.StripeSubscription, error) {
	s, err := c.sc.V1Subscriptions.Retrieve(ctx, id, nil)
	if err != nil {
		return billing.StripeSubscription{}, apiError(err, "read the subscription")
	}
	return subscriptionOf(s), nil
}

// SetQuantity implements billing.Gateway: the first item's quantity, without
// proration surprises (Stripe's default proration applies).
func (c *Client) SetQuantity(ctx context.Context, subscriptionID string, quantity int64, idempotencyKey string) error {
	s, err := c.sc.V1Subscriptions.Retrieve(ctx, subscriptionID, nil)
	if err != nil {
		return apiError(err, "read the subscription")
	}
	if s.Items == nil || len(s.Items.Data) == 0 {
		return &coditect.Error{Code: coditect.CodeConflict, Message: "the subscription has no items"}
	}
	p := &stripego.SubscriptionUpdateParams{Items: []*stripego.SubscriptionUpdateItemParams{{
		ID: stripego.String(s.Items.Data[0].ID), Quantity: stripego.Int64(quantity)}}}
	if idempotencyKey != "" {
		p.SetIdempotencyKey(idempotencyKey)
	}
	_, err = c.sc.V1Subscriptions.Update(ctx, subscriptionID, p)
	return apiError(err, "update the seat count")
}

// CancelSubscription implements billing.Gateway: the subscription ends now, without
// proration. It is idempotent: one Stripe does not know, or that has ended already, is
// left alone; the idempotency key makes a retried cancel the same request.
func (c *Client) CancelSubscription(ctx context.Context, id string) error {
	s, err := c.sc.V1Subscriptions.Retrieve(ctx, id, nil)
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return apiError(err, "read the subscription")
	}
	if s.Status == stripego.SubscriptionStatusCanceled || s.Status == stripego.SubscriptionStatusIncompleteExpired {
		return nil
	}
	p := &stripego.SubscriptionCancelParams{}
	p.SetIdempotencyKey("coditect-cancel-" + id)
	_, err = c.sc.V1Subscriptions.Cancel(ctx, id, p)
	return apiError(err, "cancel the subscription")
}

// ReportUsage implements billing.Gateway: one meter event, its identifier making a
// repeat a no-op at Stripe.
func (c *Client) ReportUsage(ctx context.Context, e billing.MeterEvent) error {
	p := &stripego.BillingMeterEventCreateParams{EventName: stripego.String(e.EventName), Identifier: stripego.String(e.Identifier),
		Payload:   map[string]string{"stripe_customer_id": e.CustomerID, "value": fmt.Sprint(e.Value)},
		Timestamp: stripego.Int64(e.Timestamp.Unix())}
	p.SetIdempotencyKey(e.Identifier)
	_, err := c.sc.V1BillingMeterEvents.Create(ctx, p)
	return apiError(err, "record usage")
}

// VerifyEvent implements billing.Gateway with Stripe's signature scheme (HMAC-SHA256
// of "timestamp.payload" with the endpoint secret, within the tolerance window). Only
// the envelope (id, type, created) is read here: an authentic event is recorded even
// when its object does not decode, and DecodeEvent's error then fails the processing
// job (retried, visible) instead of the delivery. The event's API version may differ
// from stripe-go's: only fields stable across versions are read.
func (c *Client) VerifyEvent(payload []byte, signature string) (billing.Event, error) {
	if c.secret == "" {
		return billing.Event{}, &coditect.Error{Code: coditect.CodeBillingNotConfigured, Kind: coditect.CodeUnavailable,
			Message: "webhooks are not configured on this server (no STRIPE_WEBHOOK_SECRET)"}
	}
	if err := webhook.ValidatePayloadWithTolerance(payload, signature, c.secret, c.tolerance); err != nil {
		return billing.Event{}, &coditect.Error{Code: coditect.CodeMalformed, Message: "the Stripe signature is missing, invalid or too old", Err: err}
	}
	var env struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
	}
	if err := json.Unmarshal(payload, &env); err != nil || env.ID == "" || env.Type == "" {
		return billing.Event{}, &coditect.Error{Code: coditect.CodeMalformed, Message: "not a Stripe event", Err: err}
	}
	return billing.Event{ID: env.ID, Type: env.Type, Created: time.Unix(env.Created, 0).UTC(), Payload: payload}, nil
}

// DecodeEvent implements billing.Gateway.
func (c *Client) DecodeEvent(payload []byte) (billing.Event, error) {
	var ev stripego.Event
	if err := json.Unmarshal(payload, &ev); err != nil || ev.ID == "" || ev.Data == nil {
		return billing.Event{}, &coditect.Error{Code: coditect.CodeMalformed, Message: "not a Stripe event", Err: err}
	}
	out := billing.Event{ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC(), Payload: payload}
	bad := func(err error) (billing.Event, error) {
		return billing.Event{}, &coditect.Error{Code: coditect.CodeMalformed, Message: "the event's object is not what its type says", Err: err}
	}
	switch ev.Type {
	case "checkout.session.completed":
		var s stripego.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
			return bad(err)
		}
		out.ClientReference = s.ClientReferenceID
		if s.Customer != nil {
			out.CustomerID = s.Customer.ID
		}
		if s.Subscription != nil {
			out.SubscriptionID = s.Subscription.ID
		}
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
		"customer.subscription.trial_will_end":
		var s stripego.Subscription
		if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
			return bad(err)
		}
		st := subscriptionOf(&s)
		out.Subscription, out.SubscriptionID = &st, s.ID
		if s.Customer != nil {
			out.CustomerID = s.Customer.ID
		}
	case "invoice.paid", "invoice.payment_failed":
		var inv stripego.Invoice
		if err := json.Unmarshal(ev.Data.Raw, &inv); err != nil {
			return bad(err)
		}
		if inv.Customer != nil {
			out.CustomerID = inv.Customer.ID
		}
		if inv.Parent != nil && inv.Parent.SubscriptionDetails != nil && inv.Parent.SubscriptionDetails.Subscription != nil {
			out.SubscriptionID = inv.Parent.SubscriptionDetails.Subscription.ID
		}
	}
	return out, nil
}

func subscriptionOf(s *stripego.Subscription) billing.StripeSubscription {
	out := billing.StripeSubscription{ID: s.ID, Status: string(s.Status), CancelAtPeriodEnd: s.CancelAtPeriodEnd}
	if s.TrialEnd > 0 {
		t := time.Unix(s.TrialEnd, 0).UTC()
		out.TrialEnd = &t
	}
	if s.Items != nil && len(s.Items.Data) > 0 {
		it := s.Items.Data[0]
		out.Quantity = it.Quantity
		if it.Price != nil {
			out.PriceID = it.Price.ID
		}
		if it.CurrentPeriodEnd > 0 {
			t := time.Unix(it.CurrentPeriodEnd, 0).UTC()
			out.CurrentPeriodEnd = &t
		}
	}
	return out
}
