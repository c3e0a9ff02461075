package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// billingProblem is a problem body with the plan limit of billing.limit_reached.
type billingProblem struct {
	Code  string `json:"code"`
	Limit *struct {
		Name string `json:"name"`
		Max  int64  `json:"max"`
		Plan string `json:"plan"`
	} `json:"limit"`
}

func signup(t *testing.T, c api, email, org string) (string, string) {
	t.Helper()
	var s struct {
		tokens
		Organization struct{ Slug string }
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{"email": email,
		"password": "correct horse battery staple", "name": "Bill", "organization_name": org}, &s))
	return s.AccessToken, "/v1/orgs/" + s.Organization.Slug
}

// TestBillingEndToEnd drives billing through the real binary with stripe-mock as
// Stripe: plans and subscription, the free plan's limits (402 with the limit),
// checkout and portal, invoices, and the webhook's signature check.
func TestBillingEndToEnd(t *testing.T) {
	t.Parallel()
	mock := os.Getenv("CODITECT_TEST_STRIPE_MOCK_URL")
	if mock == "" {
		t.Skip("CODITECT_TEST_STRIPE_MOCK_URL is not set: run with `make test`, which starts stripe-mock")
	}
	env := dbEnv(t)
	env["STRIPE_SECRET_KEY"], env["STRIPE_WEBHOOK_SECRET"], env["STRIPE_API_BASE"] = "sk_test_e2e", "whsec_e2e", mock
	env["STRIPE_PRICE_PRO"] = "price_pro_e2e"
	p := start(t, env, "serve")
	c := api{t: t, base: p.url}
	tok, org := signup(t, c, "bill@example.com", "Billable")

	var plans struct {
		Data []struct {
			ID          string `json:"id"`
			Purchasable bool   `json:"purchasable"`
			MaxProjects *int64 `json:"max_projects"`
		}
	}
	require.Equal(t, http.StatusOK, c.call("GET", org+"/billing/plans", tok, nil, &plans))
	require.Len(t, plans.Data, 4)
	require.Equal(t, "free", plans.Data[0].ID)
	require.False(t, plans.Data[0].Purchasable)
	require.True(t, plans.Data[1].Purchasable, "pro has a price")
	var sub struct {
		EffectivePlan string `json:"effective_plan"`
		Configured    bool   `json:"billing_configured"`
	}
	require.Equal(t, http.StatusOK, c.call("GET", org+"/billing/subscription", tok, nil, &sub))
	require.Equal(t, "free", sub.EffectivePlan)
	require.True(t, sub.Configured)

	// The free plan: three projects, the fourth is refused with the limit.
	var ws struct{ ID string }
	require.Equal(t, http.StatusCreated, c.call("POST", org+"/workspaces", tok, map[string]any{"name": "W"}, &ws))
	for i := range 3 {
		require.Equal(t, http.StatusCreated, c.call("POST", org+"/projects", tok, map[string]any{"workspace_id": ws.ID, "name": fmt.Sprint("P", i)}, nil))
	}
	var pb billingProblem
	require.Equal(t, http.StatusPaymentRequired, c.call("POST", org+"/projects", tok, map[string]any{"workspace_id": ws.ID, "name": "P4"}, &pb))
	require.Equal(t, "billing.limit_reached", pb.Code)
	require.NotNil(t, pb.Limit)
	require.Equal(t, "max_projects", pb.Limit.Name)
	require.Equal(t, int64(3), pb.Limit.Max)
	require.Equal(t, "free", pb.Limit.Plan)

	// Three members: the owner and two invitations; the third invitation is refused.
	for i := range 2 {
		require.Equal(t, http.StatusCreated, c.call("POST", org+"/invitations", tok, map[string]any{"email": fmt.Sprint("m", i, "@example.com"), "role": "member"}, nil))
	}
	pb = billingProblem{}
	require.Equal(t, http.StatusPaymentRequired, c.call("POST", org+"/invitations", tok, map[string]any{"email": "m9@example.com", "role": "member"}, &pb))
	require.Equal(t, "billing.limit_reached", pb.Code)
	require.Equal(t, "max_members", pb.Limit.Name)

	// Checkout and portal (stripe-mock answers for Stripe), invoices.
	var u struct{ URL string }
	require.Equal(t, http.StatusOK, c.call("POST", org+"/billing/checkout", tok, map[string]any{"plan": "pro"}, &u))
	require.Contains(t, u.URL, "https://")
	var bad problem
	require.Equal(t, http.StatusUnprocessableEntity, c.call("POST", org+"/billing/checkout", tok, map[string]any{"plan": "business"}, &bad))
	require.Equal(t, http.StatusOK, c.call("POST", org+"/billing/portal", tok, nil, &u))
	require.Contains(t, u.URL, "https://")
	var inv struct {
		Data []struct {
			HostedInvoiceURL string `json:"hosted_invoice_url"`
		}
	}
	require.Equal(t, http.StatusOK, c.call("GET", org+"/billing/invoices", tok, nil, &inv))
	require.NotEmpty(t, inv.Data)

	// Webhooks: a bad signature is 400; a signed event for a customer we do not know
	// is accepted (200) and logged, and so is its duplicate.
	event := []byte(`{"id":"evt_e2e","object":"event","created":1700000000,"type":"customer.subscription.updated","data":{"object":{"id":"sub_x","object":"subscription","customer":"cus_unknown","status":"active"}}}`)
	post := func(sig string) int {
		req, err := http.NewRequest("POST", p.url+"/v1/webhooks/stripe", bytes.NewReader(event))
		require.NoError(t, err)
		req.Header.Set("Stripe-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now().Unix()
	m := hmac.New(sha256.New, []byte("whsec_e2e"))
	fmt.Fprintf(m, "%d.%s", now, event)
	good := fmt.Sprintf("t=%d,v1=%s", now, hex.EncodeToString(m.Sum(nil)))
	require.Equal(t, http.StatusBadRequest, post(fmt.Sprintf("t=%d,v1=%064x", now, 0)))
	require.Equal(t, http.StatusOK, post(good))
	require.Equal(t, http.StatusOK, post(good))
}

// TestBillingNotConfigured: without STRIPE_SECRET_KEY (the dev default) the plans and
// subscription are readable, everybody is on free, and the Stripe routes answer 503.
func TestBillingNotConfigured(t *testing.T) {
	t.Parallel()
	p := start(t, dbEnv(t), "serve")
	c := api{t: t, base: p.url}
	tok, org := signup(t, c, "free@example.com", "Freeloader")
	require.Equal(t, http.StatusOK, c.call("GET", org+"/billing/plans", tok, nil, nil))
	require.Equal(t, http.StatusOK, c.call("GET", org+"/billing/subscription", tok, nil, nil))
	var pb problem
	for _, r := range []struct{ method, path string }{{"POST", org + "/billing/checkout"}, {"POST", org + "/billing/portal"}, {"GET", org + "/billing/invoices"}} {
		pb = problem{}
		require.Equal(t, http.StatusServiceUnavailable, c.call(r.method, r.path, tok, map[string]any{"plan": "pro"}, &pb), r.path)
		require.Equal(t, "billing.not_configured", pb.Code)
	}
	require.Equal(t, http.StatusServiceUnavailable, c.call("POST", "/v1/webhooks/stripe", "", map[string]any{"id": "evt_1"}, &pb))
	require.Equal(t, "billing.not_configured", pb.Code)
}
