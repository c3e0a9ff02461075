package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// ProcessEventArgs is the system job that applies one recorded webhook event.
type ProcessEventArgs struct {
	EventID string `json:"event_id"`
}

// Kind implements coditect.Job.
func (ProcessEventArgs) Kind() string { return "billing.process_event" }

// SeatSyncArgs is the tenant job that sets the subscription's seat count to the
// member count. Debounced: a burst of membership changes costs one Stripe update.
type SeatSyncArgs struct {
	coditect.TenantJob
	Delay time.Duration `json:"delay"`
}

// Kind implements coditect.Job.
func (SeatSyncArgs) Kind() string { return "billing.seat_sync" }

// Debounce implements coditect.DebouncedJob.
func (a SeatSyncArgs) Debounce() time.Duration { return a.Delay }

// DowngradeArgs is the tenant job that ends a past-due subscription's grace period: it
// runs a grace period after the first failed payment (debounced, so repeated failures
// schedule it once) and drops the organization to the free plan's entitlements unless
// an invoice was paid meanwhile.
type DowngradeArgs struct {
	coditect.TenantJob
	Grace time.Duration `json:"grace"`
}

// Kind implements coditect.Job.
func (DowngradeArgs) Kind() string { return "billing.dunning_downgrade" }

// Debounce implements coditect.DebouncedJob.
func (a DowngradeArgs) Debounce() time.Duration { return a.Grace }

// CancelSubscriptionArgs is the tenant job that cancels a deleted organization's
// subscription at Stripe. It carries the subscription id, read when the deletion was
// requested, because the erasure removes the rows meanwhile (and leaves this job's
// kind alone). Idempotent: a subscription that has ended already is left alone.
type CancelSubscriptionArgs struct {
	coditect.TenantJob
	SubscriptionID string `json:"subscription_id"`
}

// Kind implements coditect.Job.
func (CancelSubscriptionArgs) Kind() string { return "billing.cancel_subscription" }

// ReportUsageArgs is the periodic system job that reports every customer's daily API
// calls to Stripe's meter.
type ReportUsageArgs struct{}

// Kind implements coditect.Job.
func (ReportUsageArgs) Kind() string { return "billing.report_usage" }

// SeatSyncJob is the job account enqueues after a membership change; nil when Stripe
// is not configured (there are no seats to sync).
func (s *Service) SeatSyncJob() coditect.TenantBoundJob {
	if s.gateway == nil {
		return nil
	}
	return &SeatSyncArgs{Delay: s.cfg.SeatDebounce}
}

// SubscriptionCancelJob is the job account enqueues in the transaction that deletes
// the context's organization: it cancels the organization's subscription at Stripe.
// Nil without Stripe, or without a subscription that could still bill.
func (s *Service) SubscriptionCancelJob(ctx context.Context) (coditect.TenantBoundJob, error) {
	if s.gateway == nil {
		return nil, nil
	}
	// Read in a transaction of its own, past any cache, waiting for a webhook that is
	// writing the row: the id must be the current one.
	var job coditect.TenantBoundJob
	err := s.store.InBillingTx(ctx, func(tx Tx) error {
		sub, err := tx.SubscriptionGetForUpdate(ctx)
		if coditect.IsNotFound(err) || (err == nil && (sub.Status == "canceled" || sub.Status == "incomplete_expired")) {
			return nil
		}
		if err == nil {
			job = &CancelSubscriptionArgs{SubscriptionID: sub.StripeSubscriptionID}
		}
		return err
	})
	return job, err
}

// CancelSubscription cancels subscription id at Stripe now (the CancelSubscriptionArgs
// job); an error retries the job.
func (s *Service) CancelSubscription(ctx context.Context, id string) error {
	if s.gateway == nil {
		return notConfigured()
	}
	if id == "" {
		return nil
	}
	if err := s.gateway.CancelSubscription(ctx, id); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "stripe: subscription of a deleted organization canceled", "subscription", id)
	return nil
}

// ReceiveWebhook verifies a webhook delivery (the raw body and its Stripe-Signature
// header) and records its event once, enqueueing its processing in the same
// transaction. Only the envelope is read here: an authentic event whose object does
// not decode is recorded, and its processing job fails (and retries) instead. A duplicate event id is accepted and does nothing. A bad or stale
// signature is malformed (400); without Stripe configured every event is refused with
// billing.not_configured (503).
func (s *Service) ReceiveWebhook(ctx context.Context, payload []byte, signature string) error {
	if s.gateway == nil {
		return notConfigured()
	}
	ev, err := s.gateway.VerifyEvent(payload, signature)
	if err != nil {
		return err
	}
	fresh, err := s.store.StripeEventRecord(ctx, ev, ProcessEventArgs{EventID: ev.ID})
	if err != nil {
		return err
	}
	if !fresh {
		s.log.InfoContext(ctx, "stripe webhook: duplicate event ignored", "event_id", ev.ID, "type", ev.Type)
	}
	return nil
}

// Outcomes recorded on processed events.
const (
	outcomeApplied         = "applied"
	outcomeStale           = "stale"
	outcomeIgnored         = "ignored"
	outcomeUnknownCustomer = "unknown_customer"
	outcomeUnknownPrice    = "unknown_price"
	// The state of the current subscription applied, its plan kept: the price is not one
	// we sell.
	outcomeAppliedUnknownPrice = "applied_unknown_price"
)

// ProcessEvent applies one recorded event (the ProcessEventArgs job). An error leaves
// the event unprocessed and the job retries it; an event for an unknown customer is
// logged and marked done, so it does not retry forever.
func (s *Service) ProcessEvent(ctx context.Context, id string) error {
	if s.gateway == nil {
		return notConfigured()
	}
	payload, err := s.store.StripeEventPayload(ctx, id)
	if err != nil {
		return err
	}
	ev, err := s.gateway.DecodeEvent(payload)
	if err != nil {
		return err
	}
	outcome, err := s.apply(ctx, ev)
	if err != nil {
		return err
	}
	if outcome == outcomeUnknownCustomer || outcome == outcomeUnknownPrice || outcome == outcomeAppliedUnknownPrice {
		s.log.WarnContext(ctx, "stripe webhook: event not applied", "event_id", ev.ID, "type", ev.Type, "outcome", outcome,
			"customer", ev.CustomerID)
	}
	return s.store.StripeEventDone(ctx, id, outcome)
}

// apply routes an event to its tenant and handler.
func (s *Service) apply(ctx context.Context, ev Event) (string, error) {
	switch ev.Type {
	case "checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
		"customer.subscription.deleted", "invoice.paid", "invoice.payment_failed", "customer.subscription.trial_will_end":
	default:
		return outcomeIgnored, nil
	}
	if ev.CustomerID == "" {
		return outcomeUnknownCustomer, nil
	}
	tenant, err := s.store.TenantByStripeCustomer(ctx, ev.CustomerID)
	if coditect.IsNotFound(err) {
		return outcomeUnknownCustomer, nil
	}
	if err != nil {
		return "", err
	}
	tctx := coditect.WithActor(ctx, coditect.SystemActor(tenant))
	switch ev.Type {
	case "checkout.session.completed":
		if ev.SubscriptionID == "" {
			return outcomeIgnored, nil
		}
		// The session carries no subscription state: fetch it.
		sub, err := s.gateway.Subscription(ctx, ev.SubscriptionID)
		if err != nil {
			return "", err
		}
		return s.applySubscription(tctx, ev, &sub, rankCreated, "billing.checkout_complete")
	case "customer.subscription.created":
		return s.applySubscription(tctx, ev, ev.Subscription, rankCreated, "billing.subscription_create")
	case "customer.subscription.updated":
		return s.applySubscription(tctx, ev, ev.Subscription, rankUpdated, "billing.subscription_update")
	case "customer.subscription.deleted":
		return s.applySubscription(tctx, ev, ev.Subscription, rankDeleted, "billing.subscription_delete")
	case "invoice.paid":
		return s.invoicePaid(tctx, ev)
	case "invoice.payment_failed":
		return s.paymentFailed(tctx, ev)
	default: // customer.subscription.trial_will_end
		return s.trialEnding(tctx, ev)
	}
}

// applySubscription stores the subscription state an event carries, unless the stored
// state came from a newer event: events arrive in any order, and an older one must not
// overwrite what a newer one set (checked on the locked row, and again by the upsert
// itself for a subscription that has no row yet). While a subscription is live, events
// of another one (a second checkout) are ignored, except its deletion.
func (s *Service) applySubscription(ctx context.Context, ev Event, st *StripeSubscription, rank int, action string) (string, error) {
	if st == nil || st.ID == "" {
		return "", fmt.Errorf("billing: event %s (%s) carries no subscription", ev.ID, ev.Type)
	}
	plan, known := s.plans[st.PriceID]
	outcome := outcomeApplied
	err := s.store.InBillingTx(ctx, func(tx Tx) error {
		cur, err := tx.SubscriptionGetForUpdate(ctx)
		exists := err == nil
		if err != nil && !coditect.IsNotFound(err) {
			return err
		}
		if exists && !cur.newer(ev.Created, rank) {
			outcome = outcomeStale
			return nil
		}
		same := exists && cur.StripeSubscriptionID == st.ID
		if exists && !same {
			if rank == rankDeleted {
				outcome = outcomeStale // an older subscription ended; the current one stays
				return nil
			}
			if liveStatuses[cur.Status] {
				outcome = outcomeIgnored // a second subscription must not replace the live one
				return nil
			}
		}
		if !known {
			if !same {
				outcome = outcomeUnknownPrice
				return nil
			}
			// A price we do not sell (set in Stripe's dashboard): the plan stays, but the
			// status, period and cancellation still count.
			plan, outcome = cur.Plan, outcomeAppliedUnknownPrice
		}
		next := SubscriptionRow{Subscription: Subscription{StripeSubscriptionID: st.ID, Plan: plan, Status: st.Status,
			Quantity: st.Quantity, CurrentPeriodEnd: st.CurrentPeriodEnd, CancelAtPeriodEnd: st.CancelAtPeriodEnd,
			TrialEnd: st.TrialEnd, StateAt: ev.Created, StateRank: rank}}
		if rank == rankDeleted && next.Status == "" {
			next.Status = "canceled"
		}
		if same {
			// Dunning state is ours, not Stripe's: it survives subscription updates.
			next.PastDueSince, next.DowngradedAt, next.DunningAt = cur.PastDueSince, cur.DowngradedAt, cur.DunningAt
		}
		if (next.Status == "active" || next.Status == "trialing") && !before(ev.Created, next.DunningAt) {
			// Stripe says the subscription is in good standing as of this event: dunning
			// that started before it is over, and older invoice events are stale.
			at := ev.Created
			next.PastDueSince, next.DowngradedAt, next.DunningAt = nil, nil, &at
		}
		applied, err := tx.SubscriptionPut(ctx, next)
		if err != nil {
			return err
		}
		if !applied {
			outcome = outcomeStale // a newer state was stored meanwhile
			return nil
		}
		return auditRow(ctx, tx, action, "subscription", st.ID, map[string]any{
			"plan": plan, "status": next.Status, "quantity": next.Quantity, "stripe_event": ev.ID})
	})
	return outcome, err
}

// before reports whether t is before a set mark (never, when there is none).
func before(t time.Time, mark *time.Time) bool { return mark != nil && t.Before(*mark) }

// invoiceTarget locks the subscription an invoice event is about and reports whether
// the event applies: it must be for the current subscription and not older than the
// last change of payment standing.
func invoiceTarget(ctx context.Context, tx Tx, ev Event) (SubscriptionRow, string, error) {
	cur, err := tx.SubscriptionGetForUpdate(ctx)
	if coditect.IsNotFound(err) {
		return cur, outcomeIgnored, nil
	}
	if err != nil {
		return cur, "", err
	}
	if ev.SubscriptionID == "" || ev.SubscriptionID != cur.StripeSubscriptionID {
		return cur, outcomeIgnored, nil // a one-off invoice, or one of another subscription
	}
	if before(ev.Created, cur.DunningAt) {
		return cur, outcomeStale, nil
	}
	return cur, outcomeApplied, nil
}

// invoicePaid ends dunning: the past-due mark and any downgrade go.
func (s *Service) invoicePaid(ctx context.Context, ev Event) (string, error) {
	var outcome string
	err := s.store.InBillingTx(ctx, func(tx Tx) error {
		cur, o, err := invoiceTarget(ctx, tx, ev)
		if outcome = o; err != nil || o != outcomeApplied {
			return err
		}
		dunning := cur.PastDueSince != nil || cur.DowngradedAt != nil
		at := ev.Created
		cur.PastDueSince, cur.DowngradedAt, cur.DunningAt = nil, nil, &at
		if (cur.Status == "past_due" || cur.Status == "unpaid") && !ev.Created.Before(cur.StateAt) {
			cur.Status = "active"
		}
		if _, err := tx.SubscriptionPut(ctx, cur); err != nil {
			return err
		}
		if !dunning {
			return nil // only the mark moved on, so an older failure processed late is stale
		}
		return auditRow(ctx, tx, "billing.invoice_paid", "subscription", cur.StripeSubscriptionID, map[string]any{"stripe_event": ev.ID})
	})
	return outcome, err
}

// paymentFailed starts dunning on the first failure: the subscription is marked past
// due, the owners are emailed, and the downgrade job is scheduled a grace period later.
// Further failures in the same period change nothing but the mark; a failure older
// than the last payment (its job retried late) is stale.
func (s *Service) paymentFailed(ctx context.Context, ev Event) (string, error) {
	owners, org, err := s.noticeRecipients(ctx)
	if err != nil {
		return "", err
	}
	var outcome string
	err = s.store.InBillingTx(ctx, func(tx Tx) error {
		cur, o, err := invoiceTarget(ctx, tx, ev)
		if outcome = o; err != nil || o != outcomeApplied {
			return err
		}
		if cur.DunningAt != nil && ev.Created.Equal(*cur.DunningAt) {
			outcome = outcomeStale // same second as a payment: the payment wins
			return nil
		}
		at := ev.Created
		cur.DunningAt = &at
		started := cur.PastDueSince == nil
		if started {
			cur.PastDueSince = &at
			if cur.Status == "active" || cur.Status == "trialing" {
				cur.Status = "past_due"
			}
		}
		if _, err := tx.SubscriptionPut(ctx, cur); err != nil {
			return err
		}
		if !started {
			outcome = outcomeIgnored
			return nil
		}
		if err := auditRow(ctx, tx, "billing.payment_failed", "subscription", cur.StripeSubscriptionID, map[string]any{"stripe_event": ev.ID}); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, owners, Notice{Kind: NoticePaymentFailed, OrganizationName: org, Date: at.Add(s.cfg.GracePeriod)}); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &DowngradeArgs{Grace: s.cfg.GracePeriod})
	})
	return outcome, err
}

// trialEnding emails the owners that the trial ends soon.
func (s *Service) trialEnding(ctx context.Context, ev Event) (string, error) {
	owners, org, err := s.noticeRecipients(ctx)
	if err != nil {
		return "", err
	}
	end := ev.Created.Add(3 * 24 * time.Hour) // Stripe sends it three days ahead
	if ev.Subscription != nil && ev.Subscription.TrialEnd != nil {
		end = *ev.Subscription.TrialEnd
	}
	// The event is marked done in the transaction that enqueues the emails: a retry
	// after a lost done-mark sends nothing twice.
	return outcomeApplied, s.store.InBillingTx(ctx, func(tx Tx) error {
		claimed, err := tx.StripeEventClaim(ctx, ev.ID, outcomeApplied)
		if err != nil || !claimed {
			return err
		}
		return s.notify(ctx, tx, owners, Notice{Kind: NoticeTrialEnding, OrganizationName: org, Date: end})
	})
}

func (s *Service) noticeRecipients(ctx context.Context) ([]string, string, error) {
	owners, err := s.store.OwnerEmails(ctx)
	if err != nil {
		return nil, "", err
	}
	org, err := s.store.OrganizationName(ctx)
	return owners, org, err
}

// notify enqueues n for every owner, in tx.
func (s *Service) notify(ctx context.Context, tx Tx, owners []string, n Notice) error {
	if s.mailer == nil {
		return nil
	}
	for _, to := range owners {
		job, err := s.mailer(to, n)
		if err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

// SyncSeats sets the subscription's quantity to the member count (the SeatSyncArgs
// job). It reads the count when it runs, and again after the update, so a change made
// while it ran is not lost.
func (s *Service) SyncSeats(ctx context.Context) error {
	if s.gateway == nil {
		return nil
	}
	for range 3 {
		sub, err := s.store.Subscription(ctx)
		if coditect.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !liveStatuses[sub.Status] {
			return nil
		}
		seats, err := s.store.MemberCount(ctx)
		if err != nil {
			return err
		}
		seats = max(seats, 1)
		if seats == sub.Quantity {
			return nil
		}
		if err := s.gateway.SetQuantity(ctx, sub.StripeSubscriptionID, seats, ""); err != nil {
			return err
		}
		err = s.store.InBillingTx(ctx, func(tx Tx) error {
			cur, err := tx.SubscriptionGetForUpdate(ctx)
			if err != nil {
				return err
			}
			if cur.StripeSubscriptionID != sub.StripeSubscriptionID {
				return nil
			}
			prev := cur.Quantity
			cur.Quantity = seats
			if _, err := tx.SubscriptionPut(ctx, cur); err != nil {
				return err
			}
			return auditRow(ctx, tx, "billing.seats_update", "subscription", cur.StripeSubscriptionID,
				map[string]any{"quantity": seats, "previous_quantity": prev})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Downgrade ends the grace period of a past-due subscription (the DowngradeArgs job):
// unless an invoice was paid meanwhile, the organization falls to the free plan's
// entitlements. Nothing is deleted; a later paid invoice restores the plan. Run early,
// it answers ErrNotDue.
func (s *Service) Downgrade(ctx context.Context, grace time.Duration) error {
	if grace <= 0 {
		grace = s.cfg.GracePeriod
	}
	return s.store.InBillingTx(ctx, func(tx Tx) error {
		cur, err := tx.SubscriptionGetForUpdate(ctx)
		if coditect.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.PastDueSince == nil || cur.DowngradedAt != nil || cur.Status == "active" || cur.Status == "trialing" {
			return nil // paid meanwhile (Stripe says it is in good standing), or done already
		}
		due := cur.PastDueSince.Add(grace)
		now := s.now()
		if now.Before(due) {
			return ErrNotDue{At: due}
		}
		cur.DowngradedAt = &now
		if _, err := tx.SubscriptionPut(ctx, cur); err != nil {
			return err
		}
		return auditRow(ctx, tx, "billing.downgrade", "subscription", cur.StripeSubscriptionID,
			map[string]any{"plan": cur.Plan, "effective_plan": FreePlan})
	})
}

// meterWindow is how far back usage is reported: Stripe refuses meter events older
// than 35 days.
const meterWindow = 30 * 24 * time.Hour

// ReportUsage reports every organization's API calls per finished UTC day to Stripe's
// meter (the ReportUsageArgs job), each day once: the identifier is derived from the
// tenant and the day, so a retry after a partial failure is dropped by Stripe, and each
// tenant's reported-through day moves on only after its day went out. A tenant that
// fails is left for the next run; the error names how many failed.
func (s *Service) ReportUsage(ctx context.Context) error {
	if s.gateway == nil || s.cfg.MeterEventName == "" {
		return nil
	}
	var errs []error
	after := ""
	for {
		page, err := s.store.StripeCustomersPage(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, c := range page {
			tctx := coditect.WithActor(ctx, coditect.SystemActor(c.Tenant))
			if err := s.reportTenantUsage(tctx, c); err != nil && !coditect.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("tenant %s: %w", c.Tenant, err))
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].CustomerID
	}
	if len(errs) > 0 {
		return fmt.Errorf("billing: usage report failed for %d organizations: %w", len(errs), errors.Join(errs...))
	}
	return nil
}

func (s *Service) reportTenantUsage(ctx context.Context, c CustomerRef) error {
	today := s.now().UTC().Truncate(24 * time.Hour)
	since := today.Add(-meterWindow)
	through, err := s.store.UsageReportedThrough(ctx)
	if err != nil {
		return err
	}
	if !through.IsZero() && through.AddDate(0, 0, 1).After(since) {
		since = through.AddDate(0, 0, 1)
	}
	if !since.Before(today) {
		return nil
	}
	days, err := s.store.UsageDays(ctx, since, today)
	if err != nil {
		return err
	}
	for _, d := range days {
		if err := s.reportDay(ctx, c, d); err != nil {
			return err
		}
	}
	return s.store.InBillingTx(ctx, func(tx Tx) error { return tx.UsageReportedSet(ctx, today.AddDate(0, 0, -1)) })
}

func (s *Service) reportDay(ctx context.Context, c CustomerRef, d usage.Day) error {
	if d.APICalls <= 0 {
		return nil
	}
	day := d.Date.UTC().Format(time.DateOnly)
	err := s.gateway.ReportUsage(ctx, MeterEvent{EventName: s.cfg.MeterEventName, CustomerID: c.CustomerID,
		Identifier: "coditect-usage-" + c.Tenant.String() + "-" + day, Value: d.APICalls,
		Timestamp: d.Date.UTC().Add(24*time.Hour - time.Second)})
	if err != nil {
		return err
	}
	return s.store.InBillingTx(ctx, func(tx Tx) error { return tx.UsageReportedSet(ctx, d.Date.UTC()) })
}
