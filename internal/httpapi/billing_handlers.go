package httpapi

import (
	"context"
	"io"
	"net/http"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
)

// BillingService is plans, subscriptions, Stripe Checkout and portal, invoices and
// webhooks (*billing.Service). It authorizes every call itself.
type BillingService interface {
	Plans(ctx context.Context) ([]billing.Plan, error)
	Subscription(ctx context.Context) (billing.SubscriptionView, error)
	Invoices(ctx context.Context) ([]billing.Invoice, error)
	Checkout(ctx context.Context, plan string) (string, error)
	Portal(ctx context.Context) (string, error)
	ReceiveWebhook(ctx context.Context, payload []byte, signature string) error
}

// urlBody is the answer of checkout and portal: where to send the browser.
type urlBody struct {
	URL string `json:"url"`
}

// checkoutRequest is POST …/billing/checkout's body.
type checkoutRequest struct {
	Plan string `json:"plan"`
}

// handleBillingPlans: GET /v1/orgs/{org}/billing/plans.
func handleBillingPlans(svc BillingService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plans, err := svc.Plans(r.Context())
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if plans == nil {
			plans = []billing.Plan{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": plans})
	})
}

// handleBillingSubscription: GET /v1/orgs/{org}/billing/subscription.
func handleBillingSubscription(svc BillingService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, err := svc.Subscription(r.Context())
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, sub)
	})
}

// handleBillingInvoices: GET /v1/orgs/{org}/billing/invoices.
func handleBillingInvoices(svc BillingService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, err := svc.Invoices(r.Context())
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if inv == nil {
			inv = []billing.Invoice{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": inv, "next_cursor": nil})
	})
}

// handleBillingCheckout: POST /v1/orgs/{org}/billing/checkout {plan} → {url}.
func handleBillingCheckout(svc BillingService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req checkoutRequest
		if decodeJSON(w, r, &req) != nil {
			return
		}
		url, err := svc.Checkout(r.Context(), req.Plan)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, urlBody{URL: url})
	})
}

// handleBillingPortal: POST /v1/orgs/{org}/billing/portal → {url}.
func handleBillingPortal(svc BillingService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		url, err := svc.Portal(r.Context())
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, urlBody{URL: url})
	})
}

// handleStripeWebhook: POST /v1/webhooks/stripe. The body is read raw: the signature
// covers its exact bytes.
func handleStripeWebhook(svc BillingService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			if isTooLarge(err) {
				writeProblem(w, r, coditect.Errorf(coditect.CodeTooLarge, "the event is larger than this server accepts"))
				return
			}
			writeProblem(w, r, coditect.Errorf(coditect.CodeMalformed, "could not read the request body"))
			return
		}
		if err := svc.ReceiveWebhook(r.Context(), payload, r.Header.Get("Stripe-Signature")); err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"received": true})
	})
}

// billingSchemas are the named schemas of the billing API.
func billingSchemas() map[string]jsonSchema {
	optInt := jsonSchema{"type": []string{"integer", "null"}, "description": "null: no limit"}
	optTime := jsonSchema{"type": []string{"string", "null"}, "format": "date-time"}
	entitlements := map[string]jsonSchema{
		"plan":                 {"type": "string"},
		"max_members":          optInt,
		"max_projects":         optInt,
		"api_rate_limit":       {"type": "integer", "description": "API requests per minute."},
		"export_allowed":       {"type": "boolean"},
		"audit_retention_days": {"type": "integer"},
	}
	plan := map[string]jsonSchema{
		"id":          {"type": "string"},
		"name":        {"type": "string"},
		"purchasable": {"type": "boolean", "description": "A Stripe price is configured: checkout can sell it."},
	}
	for k, v := range entitlements {
		plan[k] = v
	}
	return map[string]jsonSchema{
		"Entitlements": {"type": "object", "required": []string{"plan", "max_members", "max_projects", "api_rate_limit", "export_allowed", "audit_retention_days"},
			"properties": entitlements},
		"Plan": {"type": "object", "required": []string{"id", "name", "purchasable", "plan"}, "properties": plan},
		"PlanList": {"type": "object", "required": []string{"data"}, "properties": map[string]jsonSchema{
			"data": {"type": "array", "items": ref("Plan")}}},
		"Subscription": {"type": "object", "required": []string{"plan", "status", "effective_plan", "entitlements", "billing_configured"},
			"properties": map[string]jsonSchema{
				"plan":                 {"type": "string", "description": "The subscribed plan (free without a subscription)."},
				"status":               {"type": "string", "description": "Stripe's status (active, trialing, past_due, canceled, …), or none."},
				"effective_plan":       {"type": "string", "description": "The plan whose entitlements apply now."},
				"quantity":             {"type": "integer", "description": "Seats."},
				"current_period_end":   optTime,
				"cancel_at_period_end": {"type": "boolean"},
				"trial_end":            optTime,
				"past_due_since":       optTime,
				"downgraded_at":        optTime,
				"entitlements":         ref("Entitlements"),
				"billing_configured":   {"type": "boolean", "description": "Whether this server is connected to Stripe."},
			}},
		"Invoice": {"type": "object", "required": []string{"id", "status", "currency", "amount_due", "amount_paid", "created", "hosted_invoice_url"},
			"properties": map[string]jsonSchema{
				"id": {"type": "string"}, "number": {"type": "string"}, "status": {"type": "string"}, "currency": {"type": "string"},
				"amount_due": {"type": "integer"}, "amount_paid": {"type": "integer"}, "created": {"type": "string", "format": "date-time"},
				"hosted_invoice_url": {"type": "string"}, "invoice_pdf": {"type": "string"},
			}},
		"InvoiceList": {"type": "object", "required": []string{"data", "next_cursor"}, "properties": map[string]jsonSchema{
			"data": {"type": "array", "items": ref("Invoice")}, "next_cursor": {"type": "null"}}},
		"CheckoutRequest": {"type": "object", "required": []string{"plan"}, "additionalProperties": false,
			"properties": map[string]jsonSchema{"plan": {"type": "string", "description": "A purchasable plan id, e.g. pro."}}},
		"RedirectURL": {"type": "object", "required": []string{"url"}, "properties": map[string]jsonSchema{
			"url": {"type": "string", "format": "uri", "description": "Where to send the browser (Stripe)."}}},
		"WebhookReceived": {"type": "object", "required": []string{"received"}, "properties": map[string]jsonSchema{"received": {"const": true}}},
	}
}

// addBillingRoutes mounts plans, subscription, invoices, checkout, portal and the
// Stripe webhook. Without a billing service every route answers 503.
func addBillingRoutes(rt *router, deps Deps, a *access) {
	org := map[string]string{"org": "The organization's slug or id."}
	mk := func(h func(BillingService) http.Handler) http.Handler {
		if deps.Billing == nil {
			return unavailable("billing")
		}
		return h(deps.Billing)
	}
	tags := []string{"billing"}
	rt.handle("GET /v1/orgs/{org}/billing/plans", a.inOrg(mk(handleBillingPlans)), operation{
		ID: "listPlans", Summary: "The plans and what each allows", Tags: tags, PathParams: org,
		Description: "Admin or higher. purchasable says whether checkout can sell the plan on this server.",
		Responses:   map[int]response{http.StatusOK: {Description: "The plans, cheapest first.", Schema: ref("PlanList")}},
	})
	rt.handle("GET /v1/orgs/{org}/billing/subscription", a.inOrg(mk(handleBillingSubscription)), operation{
		ID: "getSubscription", Summary: "The organization's subscription and entitlements", Tags: tags, PathParams: org,
		Description: "Admin or higher. Without a subscription: plan free, status none. effective_plan is free when the " +
			"subscription ended or a payment stayed unpaid past the grace period.",
		Responses: map[int]response{http.StatusOK: {Description: "The subscription.", Schema: ref("Subscription")}},
	})
	rt.handle("GET /v1/orgs/{org}/billing/invoices", a.inOrg(mk(handleBillingInvoices)), operation{
		ID: "listInvoices", Summary: "The organization's recent invoices, from Stripe", Tags: tags, PathParams: org,
		Description: "Admin or higher. The last 24 invoices, newest first, cached for about a minute. 503 billing.not_configured without Stripe.",
		Responses:   map[int]response{http.StatusOK: {Description: "Invoices with their hosted URLs.", Schema: ref("InvoiceList")}},
		Problems:    []int{http.StatusServiceUnavailable},
	})
	rt.handle("POST /v1/orgs/{org}/billing/checkout", a.inOrg(mk(handleBillingCheckout)), operation{
		ID: "createCheckout", Summary: "Start buying a plan (Stripe Checkout)", Tags: tags, PathParams: org,
		Description: "Owner only. A Stripe Checkout Session in subscription mode, one seat per member; the subscription " +
			"takes effect when Stripe's webhook confirms it. 409 billing.already_subscribed while a subscription is active, " +
			"trialing or past due (change plan or seats in the portal). 503 billing.not_configured without Stripe.",
		Body:      &requestBody{Schema: ref("CheckoutRequest")},
		Responses: map[int]response{http.StatusOK: {Description: "The Checkout URL.", Schema: ref("RedirectURL")}},
		Problems:  []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	})
	rt.handle("POST /v1/orgs/{org}/billing/portal", a.inOrg(mk(handleBillingPortal)), operation{
		ID: "createPortalSession", Summary: "Manage the subscription (Stripe Customer Portal)", Tags: tags, PathParams: org,
		Description: "Owner only. 503 billing.not_configured without Stripe.",
		Responses:   map[int]response{http.StatusOK: {Description: "The portal URL.", Schema: ref("RedirectURL")}},
		Problems:    []int{http.StatusServiceUnavailable},
	})
	rt.handle("POST /v1/webhooks/stripe", a.webhook(mk(handleStripeWebhook)), operation{
		ID: "receiveStripeWebhook", Summary: "Stripe webhook events", Tags: tags,
		Description: "For Stripe only. The Stripe-Signature header must sign the raw body with STRIPE_WEBHOOK_SECRET " +
			"within 5 minutes, else 400. Each event id is recorded once (a duplicate answers 200 and does nothing) and " +
			"processed by a background job. Without Stripe configured every event is refused: 503 billing.not_configured.",
		Params: []parameter{{Name: "Stripe-Signature", In: "header", Required: true, Description: "t=…,v1=… (Stripe's scheme).",
			Schema: jsonSchema{"type": "string"}}},
		Body:      &requestBody{Schema: jsonSchema{"type": "object", "description": "A Stripe event."}},
		Responses: map[int]response{http.StatusOK: {Description: "Recorded (or a duplicate).", Schema: ref("WebhookReceived")}},
		Problems:  []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable},
	})
}
