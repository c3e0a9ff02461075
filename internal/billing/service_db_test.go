package billing_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/mail"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/stripe"
)

const webhookSecret = "whsec_test_secret"

// fixture is billing over a real database and stripe-mock, with one organization.
type fixture struct {
	svc    *billing.Service
	store  *postgres.Store
	bs     postgres.BillingStore
	admin  *pgxpool.Pool
	owner  context.Context // the organization's owner
	tenant coditect.TenantID
	now    *atomic.Pointer[time.Time]
}

// flaky fails the next InBillingTx when armed (a handler failure), and the next
// StripeEventDone when failDone is (a lost done-mark after the handler committed).
type flaky struct {
	billing.Store
	fail, failDone atomic.Bool
}

func (f *flaky) StripeEventDone(ctx context.Context, id, outcome string) error {
	if f.failDone.CompareAndSwap(true, false) {
		return coditect.Errorf(coditect.CodeUnavailable, "database hiccup")
	}
	return f.Store.StripeEventDone(ctx, id, outcome)
}

func (f *flaky) InBillingTx(ctx context.Context, fn func(billing.Tx) error) error {
	if f.fail.CompareAndSwap(true, false) {
		return coditect.Errorf(coditect.CodeUnavailable, "database hiccup")
	}
	return f.Store.InBillingTx(ctx, fn)
}

func setup(t *testing.T, st func(billing.Store) billing.Store) fixture {
	t.Helper()
	mock := os.Getenv("CODITECT_TEST_STRIPE_MOCK_URL")
	if mock == "" {
		t.Skip("CODITECT_TEST_STRIPE_MOCK_URL is not set: run with `make test`, which starts stripe-mock")
	}
	store, db := postgrestest.NewStore(t)
	admin, err := pgxpool.New(context.Background(), db.AdminURL)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	f := fixture{store: store, bs: postgres.BillingStore{Store: store}, admin: admin, now: &atomic.Pointer[time.Time]{}}
	f.owner, f.tenant = newOrg(t, store, "acme")
	gw, err := stripe.New(stripe.Config{SecretKey: "sk_test_123", WebhookSecret: webhookSecret, APIBase: mock})
	require.NoError(t, err)
	var bst billing.Store = f.bs
	if st != nil {
		bst = st(bst)
	}
	now := time.Now()
	f.now.Store(&now)
	f.svc = billing.NewService(billing.Deps{Store: bst, Gateway: gw, Now: func() time.Time { return *f.now.Load() },
		Mailer: func(to string, n billing.Notice) (coditect.TenantBoundJob, error) {
			a, err := mail.NewSendArgs(mail.KindBillingNotice, to, mail.BillingNoticeData{OrganizationName: n.OrganizationName,
				Reason: n.Kind, Date: n.Date.Format(time.DateOnly), URL: "https://coditect.test/billing"})
			return &a, err
		}},
		billing.Config{Prices: map[string]string{"pro": "price_pro", "business": "price_business"}, GracePeriod: 72 * time.Hour,
			SuccessURL: "https://coditect.test/ok", CancelURL: "https://coditect.test/no", ReturnURL: "https://coditect.test/billing",
			MeterEventName: "api_calls"})
	return f
}

// newOrg creates an organization with its owner and returns the owner's context.
func newOrg(t *testing.T, store *postgres.Store, slug string) (context.Context, coditect.TenantID) {
	t.Helper()
	tenant, owner := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.AccountID]()
	ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: owner, Tenant: tenant, Role: coditect.RoleOwner})
	require.NoError(t, store.InTx(ctx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(ctx, account.Account{ID: owner, Email: slug + "-owner@example.com", Name: slug, PasswordHash: "x"}); err != nil {
			return err
		}
		if _, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: slug, Name: "Org " + slug}, slug+".coditect.test"); err != nil {
			return err
		}
		return tx.MembershipCreate(ctx, owner, coditect.RoleOwner)
	}))
	return ctx, tenant
}

// withCustomer gives the organization a known Stripe customer.
func (f fixture) withCustomer(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	require.NoError(t, f.bs.InBillingTx(ctx, func(tx billing.Tx) error {
		_, err := tx.CustomerSave(ctx, id)
		return err
	}))
}

// sign is Stripe's webhook signature: v1 = hex(HMAC-SHA256(secret, "<t>.<payload>")).
func sign(payload []byte, at time.Time, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.%s", at.Unix(), payload)
	return fmt.Sprintf("t=%d,v1=%s", at.Unix(), hex.EncodeToString(m.Sum(nil)))
}

// subscriptionEvent is a customer.subscription.* event as Stripe sends it.
func subscriptionEvent(id, typ, customer, sub, price, status string, quantity int, created time.Time) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2025-01-27.acacia","created":%d,"type":%q,"livemode":false,
		"data":{"object":{"id":%q,"object":"subscription","customer":%q,"status":%q,"cancel_at_period_end":false,
		"items":{"object":"list","data":[{"id":"si_1","object":"subscription_item","quantity":%d,"current_period_end":%d,
		"price":{"id":%q,"object":"price"}}]}}}}`, id, created.Unix(), typ, sub, customer, status, quantity, created.Add(30*24*time.Hour).Unix(), price)
}

// invoiceEvent is an invoice.* event of subscription sub (its parent, as Stripe's
// current API versions name it).
func invoiceEvent(id, typ, customer, sub string, created time.Time) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","created":%d,"type":%q,"data":{"object":{"id":"in_1","object":"invoice","customer":%q,
		"parent":{"type":"subscription_details","subscription_details":{"subscription":%q}}}}}`,
		id, created.Unix(), typ, customer, sub)
}

// deliver posts an event through ReceiveWebhook and runs its job (as the worker would).
func (f fixture) deliver(t *testing.T, payload []byte) {
	t.Helper()
	require.NoError(t, f.svc.ReceiveWebhook(context.Background(), payload, sign(payload, time.Now(), webhookSecret)))
	var ev struct{ ID string }
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.NoError(t, f.svc.ProcessEvent(context.Background(), ev.ID))
}

func (f fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.admin.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func (f fixture) subscription(t *testing.T) billing.SubscriptionView {
	t.Helper()
	v, err := f.svc.Subscription(f.owner)
	require.NoError(t, err)
	return v
}

func TestCheckoutPortalInvoices(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)

	url, err := f.svc.Checkout(f.owner, "pro")
	require.NoError(t, err)
	require.Contains(t, url, "https://")
	cust, err := f.bs.Customer(f.owner)
	require.NoError(t, err)
	require.Contains(t, cust, "cus_")
	tenant, err := f.bs.TenantByStripeCustomer(context.Background(), cust)
	require.NoError(t, err)
	require.Equal(t, f.tenant, tenant)

	// The customer is created once: later calls reuse it.
	_, err = f.svc.Checkout(f.owner, "business")
	require.NoError(t, err)
	portal, err := f.svc.Portal(f.owner)
	require.NoError(t, err)
	require.Contains(t, portal, "https://")
	again, err := f.bs.Customer(f.owner)
	require.NoError(t, err)
	require.Equal(t, cust, again)
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'billing.customer_create'", f.tenant.String()))

	inv, err := f.svc.Invoices(f.owner)
	require.NoError(t, err)
	require.NotEmpty(t, inv)
	require.NotEmpty(t, inv[0].ID)

	t.Run("bad plan", func(t *testing.T) {
		t.Parallel()
		for _, plan := range []string{"free", "enterprise", "", "nope"} {
			_, err := f.svc.Checkout(f.owner, plan)
			require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err), plan)
		}
	})
	t.Run("owner only", func(t *testing.T) {
		t.Parallel()
		a, _ := coditect.ActorFrom(f.owner)
		a.Role = coditect.RoleAdmin
		admin := coditect.WithActor(context.Background(), a)
		_, err := f.svc.Checkout(admin, "pro")
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
		_, err = f.svc.Portal(admin)
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
		_, err = f.svc.Invoices(admin) // admins read
		require.NoError(t, err)
		a.Role = coditect.RoleMember
		_, err = f.svc.Subscription(coditect.WithActor(context.Background(), a))
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
	})
	t.Run("other tenant sees nothing", func(t *testing.T) {
		t.Parallel()
		other, _ := newOrg(t, f.store, "other")
		inv, err := f.svc.Invoices(other)
		require.NoError(t, err)
		require.Empty(t, inv, "no customer: no invoices")
		v, err := f.svc.Subscription(other)
		require.NoError(t, err)
		require.Equal(t, "none", v.Status)
	})
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_acme")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)

	require.Equal(t, "free", f.subscription(t).EffectivePlan)
	e, err := f.svc.Entitlements(f.owner)
	require.NoError(t, err)
	require.Equal(t, int64(3), *e.MaxProjects)

	created := subscriptionEvent("evt_created", "customer.subscription.created", "cus_acme", "sub_1", "price_pro", "active", 2, t0)
	f.deliver(t, created)
	v := f.subscription(t)
	require.Equal(t, "pro", v.EffectivePlan)
	require.Equal(t, "active", v.Status)
	require.Equal(t, int64(2), v.Quantity)
	require.Equal(t, int64(50), *v.Entitlements.MaxProjects)
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'billing.process_event'"))

	t.Run("bad signature", func(t *testing.T) {
		err := f.svc.ReceiveWebhook(context.Background(), created, sign(created, time.Now(), "whsec_wrong"))
		require.Equal(t, coditect.CodeMalformed, coditect.ErrorCode(err))
		err = f.svc.ReceiveWebhook(context.Background(), created, "")
		require.Equal(t, coditect.CodeMalformed, coditect.ErrorCode(err))
		tampered := append([]byte{}, created...)
		tampered[len(tampered)-3] = ' '
		err = f.svc.ReceiveWebhook(context.Background(), tampered, sign(created, time.Now(), webhookSecret))
		require.Equal(t, coditect.CodeMalformed, coditect.ErrorCode(err))
	})
	t.Run("stale timestamp", func(t *testing.T) {
		p := subscriptionEvent("evt_stale", "customer.subscription.updated", "cus_acme", "sub_1", "price_business", "active", 9, time.Now())
		err := f.svc.ReceiveWebhook(context.Background(), p, sign(p, time.Now().Add(-10*time.Minute), webhookSecret))
		require.Equal(t, coditect.CodeMalformed, coditect.ErrorCode(err))
		require.Equal(t, 0, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_stale'"))
	})
	t.Run("duplicate", func(t *testing.T) {
		require.NoError(t, f.svc.ReceiveWebhook(context.Background(), created, sign(created, time.Now(), webhookSecret)))
		require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'billing.process_event'"), "no second job")
	})

	// Out of order: an update made after the creation arrives first; the creation
	// that follows must not undo it.
	f.deliver(t, subscriptionEvent("evt_upd", "customer.subscription.updated", "cus_acme", "sub_1", "price_business", "active", 4, t0.Add(10*time.Second)))
	f.deliver(t, subscriptionEvent("evt_created_late", "customer.subscription.created", "cus_acme", "sub_1", "price_pro", "incomplete", 1, t0.Add(5*time.Second)))
	v = f.subscription(t)
	require.Equal(t, "business", v.Plan)
	require.Equal(t, int64(4), v.Quantity)
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_created_late' AND outcome = 'stale'"))

	t.Run("unknown customer", func(t *testing.T) {
		p := subscriptionEvent("evt_unknown", "customer.subscription.updated", "cus_nobody", "sub_9", "price_pro", "active", 1, time.Now())
		f.deliver(t, p)
		require.Equal(t, 1, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_unknown' AND outcome = 'unknown_customer' AND processed_at IS NOT NULL"))
		require.Equal(t, 1, f.count(t, "SELECT count(*) FROM subscriptions"))
	})

	// Dunning: a failed payment marks the subscription past due, emails the owner and
	// schedules the downgrade, which comes only after the grace period.
	f.deliver(t, invoiceEvent("evt_fail", "invoice.payment_failed", "cus_acme", "sub_1", t0.Add(time.Minute)))
	v = f.subscription(t)
	require.Equal(t, "past_due", v.Status)
	require.NotNil(t, v.PastDueSince)
	require.Equal(t, "business", v.EffectivePlan, "the plan holds during the grace period")
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'mail.send' AND args->>'to' = 'acme-owner@example.com' AND args->>'template' = 'billing_notice'"))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'billing.dunning_downgrade' AND state = 'scheduled' AND scheduled_at > now() + interval '71 hours'"))
	f.deliver(t, invoiceEvent("evt_fail2", "invoice.payment_failed", "cus_acme", "sub_1", t0.Add(2*time.Minute)))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'mail.send'"), "one email per dunning period")

	err = f.svc.Downgrade(f.owner, 72*time.Hour)
	at, ok := billing.IsNotDue(err)
	require.True(t, ok, "%v", err)
	require.True(t, at.Equal(v.PastDueSince.Add(72*time.Hour)))
	later := time.Now().Add(73 * time.Hour)
	f.now.Store(&later)
	require.NoError(t, f.svc.Downgrade(f.owner, 72*time.Hour))
	v = f.subscription(t)
	require.Equal(t, "free", v.EffectivePlan)
	require.Equal(t, "business", v.Plan)
	require.NotNil(t, v.DowngradedAt)

	// A paid invoice restores the plan.
	f.deliver(t, invoiceEvent("evt_paid", "invoice.paid", "cus_acme", "sub_1", t0.Add(3*time.Minute)))
	v = f.subscription(t)
	require.Equal(t, "business", v.EffectivePlan)
	require.Equal(t, "active", v.Status)
	require.Nil(t, v.PastDueSince)
	require.Nil(t, v.DowngradedAt)

	// The trial-ending notice.
	f.deliver(t, subscriptionEvent("evt_trial", "customer.subscription.trial_will_end", "cus_acme", "sub_1", "price_business", "trialing", 4, t0.Add(4*time.Minute)))
	require.Equal(t, 2, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'mail.send'"))

	// Deleted: back to free, data untouched.
	f.deliver(t, subscriptionEvent("evt_del", "customer.subscription.deleted", "cus_acme", "sub_1", "price_business", "canceled", 4, t0.Add(5*time.Minute)))
	v = f.subscription(t)
	require.Equal(t, "canceled", v.Status)
	require.Equal(t, "free", v.EffectivePlan)
	require.GreaterOrEqual(t, f.count(t, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action LIKE 'billing.%'", f.tenant.String()), 6)
}

func TestWebhookHandlerFailureIsRetried(t *testing.T) {
	t.Parallel()
	var fl *flaky
	f := setup(t, func(s billing.Store) billing.Store { fl = &flaky{Store: s}; return fl })
	f.withCustomer(t, f.owner, "cus_retry")
	p := subscriptionEvent("evt_retry", "customer.subscription.created", "cus_retry", "sub_r", "price_pro", "active", 1, time.Now())
	require.NoError(t, f.svc.ReceiveWebhook(context.Background(), p, sign(p, time.Now(), webhookSecret)))

	fl.fail.Store(true)
	err := f.svc.ProcessEvent(context.Background(), "evt_retry")
	require.Error(t, err, "the job fails, so River retries it")
	require.Equal(t, 0, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_retry' AND processed_at IS NOT NULL"))
	require.Equal(t, "free", f.subscription(t).EffectivePlan)

	require.NoError(t, f.svc.ProcessEvent(context.Background(), "evt_retry")) // the retry
	require.Equal(t, "pro", f.subscription(t).EffectivePlan)
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_retry' AND outcome = 'applied'"))
}

func TestSeatSync(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_seats")
	f.deliver(t, subscriptionEvent("evt_s", "customer.subscription.created", "cus_seats", "sub_123", "price_pro", "active", 5, time.Now()))

	job := f.svc.SeatSyncJob()
	require.NotNil(t, job)
	d, ok := job.(coditect.DebouncedJob)
	require.True(t, ok)
	require.Positive(t, d.Debounce())

	// One member, five seats: the sync sets one (Stripe is stripe-mock).
	require.NoError(t, f.svc.SyncSeats(f.owner))
	require.Equal(t, int64(1), f.subscription(t).Quantity)
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'billing.seats_update'", f.tenant.String()))
	require.NoError(t, f.svc.SyncSeats(f.owner)) // nothing to change
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'billing.seats_update'", f.tenant.String()))

	// A debounced job enqueued twice waits once.
	for range 2 {
		require.NoError(t, f.bs.InBillingTx(f.owner, func(tx billing.Tx) error { return tx.Enqueue(f.owner, f.svc.SeatSyncJob()) }))
	}
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'billing.seat_sync' AND state = 'scheduled'"))
}

func TestReportUsage(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_usage")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	hour := today.AddDate(0, 0, -2).Add(10 * time.Hour)
	require.NoError(t, f.store.UsageRecord(f.owner, hour, 42))
	_, err := f.store.UsageRollup(f.owner, today)
	require.NoError(t, err)

	require.NoError(t, f.svc.ReportUsage(context.Background()))
	through, err := f.bs.UsageReportedThrough(f.owner)
	require.NoError(t, err)
	require.Equal(t, today.AddDate(0, 0, -1), through)
	require.NoError(t, f.svc.ReportUsage(context.Background()), "a second run reports nothing new")
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	store, _ := postgrestest.NewStore(t)
	owner, _ := newOrg(t, store, "plain")
	svc := billing.NewService(billing.Deps{Store: postgres.BillingStore{Store: store}}, billing.Config{})
	v, err := svc.Subscription(owner)
	require.NoError(t, err)
	require.Equal(t, "free", v.EffectivePlan)
	require.False(t, v.Configured)
	plans, err := svc.Plans(owner)
	require.NoError(t, err)
	for _, p := range plans {
		require.False(t, p.Purchasable)
	}
	for _, call := range []func() error{
		func() error { _, err := svc.Checkout(owner, "pro"); return err },
		func() error { _, err := svc.Portal(owner); return err },
		func() error { _, err := svc.Invoices(owner); return err },
		func() error { return svc.ReceiveWebhook(context.Background(), []byte(`{}`), "t=1,v1=00") },
	} {
		err := call()
		require.Equal(t, coditect.CodeBillingNotConfigured, coditect.ErrorCode(err))
		require.Equal(t, coditect.CodeUnavailable, coditect.ErrorKind(err))
	}
	require.Nil(t, svc.SeatSyncJob())
	require.NoError(t, svc.SyncSeats(owner), "no seats to sync")
}

// outcome is the recorded outcome of a processed event.
func (f fixture) outcome(t *testing.T, id string) string {
	t.Helper()
	var o string
	require.NoError(t, f.admin.QueryRow(context.Background(), "SELECT coalesce(outcome, '') FROM stripe_events WHERE event_id = $1", id).Scan(&o))
	return o
}

// A payment failure whose job is retried late, after a later payment was applied, must
// not start dunning; invoice events of another subscription are ignored; a newer
// subscription event saying active ends dunning.
func TestDunningOrder(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_dun")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	f.deliver(t, subscriptionEvent("evt_c", "customer.subscription.created", "cus_dun", "sub_1", "price_pro", "active", 1, t0))
	mails := func() int { return f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'mail.send'") }

	f.deliver(t, invoiceEvent("evt_paid", "invoice.paid", "cus_dun", "sub_1", t0.Add(2*time.Minute)))
	f.deliver(t, invoiceEvent("evt_fail_late", "invoice.payment_failed", "cus_dun", "sub_1", t0.Add(time.Minute)))
	require.Equal(t, "stale", f.outcome(t, "evt_fail_late"))
	v := f.subscription(t)
	require.Equal(t, "active", v.Status)
	require.Nil(t, v.PastDueSince)
	require.Zero(t, mails())
	require.Zero(t, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'billing.dunning_downgrade'"))

	// Another subscription's failure (or a one-off invoice's) is not this one's.
	f.deliver(t, invoiceEvent("evt_fail_other", "invoice.payment_failed", "cus_dun", "sub_other", t0.Add(3*time.Minute)))
	f.deliver(t, invoiceEvent("evt_fail_oneoff", "invoice.payment_failed", "cus_dun", "", t0.Add(3*time.Minute)))
	require.Equal(t, "ignored", f.outcome(t, "evt_fail_other"))
	require.Equal(t, "ignored", f.outcome(t, "evt_fail_oneoff"))
	require.Nil(t, f.subscription(t).PastDueSince)

	// A real failure, then Stripe says active again (a newer event): dunning is over, and
	// the downgrade job finds nothing to do.
	f.deliver(t, invoiceEvent("evt_fail", "invoice.payment_failed", "cus_dun", "sub_1", t0.Add(4*time.Minute)))
	require.Equal(t, "past_due", f.subscription(t).Status)
	require.Equal(t, 1, mails())
	f.deliver(t, subscriptionEvent("evt_ok", "customer.subscription.updated", "cus_dun", "sub_1", "price_pro", "active", 1, t0.Add(5*time.Minute)))
	v = f.subscription(t)
	require.Equal(t, "active", v.Status)
	require.Nil(t, v.PastDueSince)
	later := time.Now().Add(100 * time.Hour)
	f.now.Store(&later)
	require.NoError(t, f.svc.Downgrade(f.owner, 72*time.Hour))
	require.Equal(t, "pro", f.subscription(t).EffectivePlan)

	// Downgrade leaves a subscription alone that is live and in good standing, whatever
	// its past-due mark says.
	_, err := f.admin.Exec(context.Background(), "UPDATE subscriptions SET past_due_since = $2 WHERE tenant_id = $1", f.tenant.String(), t0)
	require.NoError(t, err)
	require.NoError(t, f.svc.Downgrade(f.owner, 72*time.Hour))
	v = f.subscription(t)
	require.Nil(t, v.DowngradedAt)
	require.Equal(t, "pro", v.EffectivePlan)
}

// A price we do not sell (set in Stripe's dashboard) still carries the status,
// cancellation and deletion of the current subscription; the plan stays.
func TestUnknownPriceKeepsPlan(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_up")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	f.deliver(t, subscriptionEvent("evt_c", "customer.subscription.created", "cus_up", "sub_1", "price_pro", "active", 1, t0))
	f.deliver(t, subscriptionEvent("evt_u", "customer.subscription.updated", "cus_up", "sub_1", "price_custom", "past_due", 3, t0.Add(time.Minute)))
	v := f.subscription(t)
	require.Equal(t, "pro", v.Plan)
	require.Equal(t, "past_due", v.Status)
	require.Equal(t, int64(3), v.Quantity)
	require.Equal(t, "applied_unknown_price", f.outcome(t, "evt_u"))
	f.deliver(t, subscriptionEvent("evt_d", "customer.subscription.deleted", "cus_up", "sub_1", "price_custom", "canceled", 3, t0.Add(2*time.Minute)))
	v = f.subscription(t)
	require.Equal(t, "canceled", v.Status)
	require.Equal(t, "free", v.EffectivePlan)

	t.Run("not the current subscription", func(t *testing.T) {
		f.deliver(t, subscriptionEvent("evt_x", "customer.subscription.updated", "cus_up", "sub_x", "price_custom", "active", 1, t0.Add(3*time.Minute)))
		require.Equal(t, "unknown_price", f.outcome(t, "evt_x"))
		require.Equal(t, "canceled", f.subscription(t).Status)
	})
}

// One subscription per organization: checkout refuses while one is live, and events of
// a second subscription do not replace the live one.
func TestSecondSubscription(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_two")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	f.deliver(t, subscriptionEvent("evt_c", "customer.subscription.created", "cus_two", "sub_1", "price_pro", "trialing", 1, t0))

	_, err := f.svc.Checkout(f.owner, "business")
	require.Equal(t, coditect.CodeBillingAlreadySubscribed, coditect.ErrorCode(err))
	require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
	require.Contains(t, err.Error(), "portal")

	f.deliver(t, subscriptionEvent("evt_c2", "customer.subscription.created", "cus_two", "sub_2", "price_business", "active", 1, t0.Add(time.Minute)))
	require.Equal(t, "ignored", f.outcome(t, "evt_c2"))
	v := f.subscription(t)
	require.Equal(t, "pro", v.Plan)
	require.Equal(t, "trialing", v.Status)

	// Once it has ended, a new checkout is allowed.
	f.deliver(t, subscriptionEvent("evt_d", "customer.subscription.deleted", "cus_two", "sub_1", "price_pro", "canceled", 1, t0.Add(2*time.Minute)))
	url, err := f.svc.Checkout(f.owner, "business")
	require.NoError(t, err)
	require.Contains(t, url, "https://")
}

// An authentic event whose object does not decode is recorded (200 to Stripe); its
// job fails, so it is retried and visible, rather than the delivery being refused.
func TestUndecodableEventIsRecorded(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	p := []byte(`{"id":"evt_odd","object":"event","created":1767225600,"type":"invoice.paid","data":{"object":"not an invoice"}}`)
	require.NoError(t, f.svc.ReceiveWebhook(context.Background(), p, sign(p, time.Now(), webhookSecret)))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_odd' AND type = 'invoice.paid' AND created = to_timestamp(1767225600)"))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'billing.process_event' AND args->>'event_id' = 'evt_odd'"))
	err := f.svc.ProcessEvent(context.Background(), "evt_odd")
	require.Equal(t, coditect.CodeMalformed, coditect.ErrorCode(err))
	require.Equal(t, 0, f.count(t, "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_odd' AND processed_at IS NOT NULL"))

	// Not an event at all, though signed: refused.
	bad := []byte(`{"object":"event"}`)
	err = f.svc.ReceiveWebhook(context.Background(), bad, sign(bad, time.Now(), webhookSecret))
	require.Equal(t, coditect.CodeMalformed, coditect.ErrorCode(err))
}

// The trial-ending notice is sent once even when marking its event done fails after
// the emails were enqueued and the job retries.
func TestTrialNoticeOnce(t *testing.T) {
	t.Parallel()
	var fl *flaky
	f := setup(t, func(s billing.Store) billing.Store { fl = &flaky{Store: s}; return fl })
	f.withCustomer(t, f.owner, "cus_trial")
	p := subscriptionEvent("evt_trial", "customer.subscription.trial_will_end", "cus_trial", "sub_t", "price_pro", "trialing", 1, time.Now())
	require.NoError(t, f.svc.ReceiveWebhook(context.Background(), p, sign(p, time.Now(), webhookSecret)))
	fl.failDone.Store(true)
	require.Error(t, f.svc.ProcessEvent(context.Background(), "evt_trial"))
	require.NoError(t, f.svc.ProcessEvent(context.Background(), "evt_trial")) // the retry
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'mail.send'"))
	require.Equal(t, "applied", f.outcome(t, "evt_trial"))
}

// Deleting an organization cancels its Stripe subscription: the deletion enqueues the
// job (with the subscription id, as the erasure removes the rows), the erasure leaves
// it, and it cancels at Stripe (stripe-mock), idempotently.
func TestDeleteOrganizationCancelsSubscription(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.withCustomer(t, f.owner, "cus_del")
	f.deliver(t, subscriptionEvent("evt_c", "customer.subscription.created", "cus_del", "sub_del", "price_pro", "active", 1, time.Now()))
	accounts := account.NewService(postgres.AccountStore{Store: f.store}, f.store, f.store, "coditect.test", nil).WithBilling(f.svc)
	require.NoError(t, accounts.DeleteOrganization(f.owner))
	const job = "SELECT count(*) FROM river_job WHERE kind = 'billing.cancel_subscription' AND args->>'subscription_id' = 'sub_del' AND args->>'tenant_id' = $1"
	require.Equal(t, 1, f.count(t, job, f.tenant.String()))

	sys := coditect.WithActor(context.Background(), coditect.SystemActor(f.tenant))
	_, err := account.EraseTenant(sys, f.store, 0)
	require.NoError(t, err)
	require.Zero(t, f.count(t, "SELECT count(*) FROM subscriptions WHERE tenant_id = $1", f.tenant.String()))
	require.Equal(t, 1, f.count(t, job, f.tenant.String()), "the erasure leaves the cancellation")

	require.NoError(t, f.svc.CancelSubscription(sys, "sub_del"))
	require.NoError(t, f.svc.CancelSubscription(sys, "sub_del"), "a retry is harmless")

	t.Run("nothing to cancel", func(t *testing.T) {
		t.Parallel()
		other, _ := newOrg(t, f.store, "nosub")
		j, err := f.svc.SubscriptionCancelJob(other)
		require.NoError(t, err)
		require.Nil(t, j)
	})
}
