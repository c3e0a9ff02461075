package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// Billing (internal/billing): plans, each tenant's Stripe customer and subscription,
// the global customer lookup and the webhook event log. See migration 0011.

var (
	_ billing.Store = BillingStore{}
	_ billing.Tx    = billingTx{}
)

// BillingStore adapts Store to billing.Store.
type BillingStore struct{ *Store }

// billingTx adapts Tx to billing.Tx.
type billingTx struct{ *Tx }

// InBillingTx implements billing.Store: fn runs in one transaction scoped to the
// context's tenant (see Store.InTx).
func (s BillingStore) InBillingTx(ctx context.Context, fn func(billing.Tx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(billingTx{tx}) })
}

// Plans lists the plans, cheapest first. The plan table is reference data: no tenant.
func (s BillingStore) Plans(ctx context.Context) ([]billing.Plan, error) {
	var out []billing.Plan
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.PlanList(ctx)
		if err != nil {
			return err
		}
		out = make([]billing.Plan, len(rows))
		for i, r := range rows {
			out[i] = billing.Plan{ID: r.ID, Name: r.Name, Position: int(r.Position), Entitlements: billing.Entitlements{
				Plan: r.ID, MaxMembers: optInt(r.MaxMembers), MaxProjects: optInt(r.MaxProjects), APIRateLimit: int64(r.ApiRateLimit),
				ExportAllowed: r.ExportAllowed, AuditRetentionDays: int64(r.AuditRetentionDays)}}
		}
		return nil
	})
	return out, dbError(err, "plan")
}

func optInt(v *int32) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

// Subscription returns the context tenant's subscription; not found when none.
func (s BillingStore) Subscription(ctx context.Context) (billing.Subscription, error) {
	var out billing.Subscription
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.SubscriptionGet(ctx, tenant)
		out = subscriptionOf(dbsqlc.SubscriptionGetForUpdateRow(r))
		return err
	})
	return out, dbError(err, "subscription")
}

func subscriptionOf(r dbsqlc.SubscriptionGetForUpdateRow) billing.Subscription {
	return billing.Subscription{StripeSubscriptionID: r.StripeSubscriptionID, Plan: r.PlanID, Status: r.Status,
		Quantity: int64(r.Quantity), CurrentPeriodEnd: r.CurrentPeriodEnd, CancelAtPeriodEnd: r.CancelAtPeriodEnd,
		TrialEnd: r.TrialEnd, PastDueSince: r.PastDueSince, DowngradedAt: r.DowngradedAt, StateAt: r.StateAt,
		StateRank: int(r.StateRank)}
}

// Customer returns the context tenant's Stripe customer id; not found when none.
func (s BillingStore) Customer(ctx context.Context) (string, error) {
	var out string
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.BillingCustomerGet(ctx, tenant)
		out = r.StripeCustomerID
		return err
	})
	return out, dbError(err, "billing customer")
}

// UsageReportedThrough returns the last day of the context tenant reported to Stripe
// (zero: none); not found when the tenant has no customer.
func (s BillingStore) UsageReportedThrough(ctx context.Context) (time.Time, error) {
	var out time.Time
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.BillingCustomerGet(ctx, tenant)
		if r.UsageReportedThrough.Valid {
			out = r.UsageReportedThrough.Time.UTC()
		}
		return err
	})
	return out, dbError(err, "billing customer")
}

// MemberCount counts the context tenant's members.
func (s BillingStore) MemberCount(ctx context.Context) (int64, error) {
	var out int64
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) (err error) {
		out, err = q.BillingMemberCount(ctx, tenant)
		return err
	})
	return out, dbError(err, "organization")
}

// OwnerEmails lists the context tenant's owners' email addresses: the owners from the
// tenant's memberships, then their addresses from the account table (keyed by
// account, so a second statement rather than a join across distribution keys).
func (s BillingStore) OwnerEmails(ctx context.Context) ([]string, error) {
	var ids []uuid.UUID
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) (err error) {
		ids, err = q.BillingOwnerIDs(ctx, tenant)
		return err
	})
	if err != nil || len(ids) == 0 {
		return nil, dbError(err, "organization")
	}
	var out []string
	err = s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.AccountContacts(ctx, ids)
		for _, r := range rows {
			out = append(out, r.Email)
		}
		return err
	})
	return out, dbError(err, "account")
}

// OrganizationName returns the context tenant's organization name.
func (s BillingStore) OrganizationName(ctx context.Context) (string, error) {
	var out string
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) (err error) {
		out, err = q.BillingOrganizationName(ctx, tenant)
		return err
	})
	return out, dbError(err, "organization")
}

// TenantByStripeCustomer resolves a Stripe customer through the global lookup.
func (s BillingStore) TenantByStripeCustomer(ctx context.Context, customerID string) (coditect.TenantID, error) {
	var out coditect.TenantID
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		id, err := q.StripeCustomerTenant(ctx, customerID)
		out = coditect.TenantID(id)
		return err
	})
	return out, dbError(err, "billing customer")
}

// StripeCustomersPage pages through the customer lookup by customer id (a system read;
// on Citus a fan-out per page).
func (s BillingStore) StripeCustomersPage(ctx context.Context, after string, limit int) ([]billing.CustomerRef, error) {
	if limit <= 0 || limit > 10000 {
		return nil, coditect.Errorf(coditect.CodeInvalid, "customer page must be 1 to 10000")
	}
	var out []billing.CustomerRef
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.StripeCustomersPage(ctx, dbsqlc.StripeCustomersPageParams{After: after, Batch: int32(limit)})
		for _, r := range rows {
			out = append(out, billing.CustomerRef{CustomerID: r.StripeCustomerID, Tenant: coditect.TenantID(r.TenantID)})
		}
		return err
	})
	return out, dbError(err, "billing customer")
}

// StripeEventRecord inserts the event (once per event id) and, when it is new,
// enqueues job in the same transaction; false when the event was recorded before.
func (s BillingStore) StripeEventRecord(ctx context.Context, e billing.Event, job coditect.Job) (bool, error) {
	if _, ok := job.(coditect.TenantBoundJob); ok {
		return false, coditect.Errorf(coditect.CodeInternal, "job %s belongs to a tenant", job.Kind())
	}
	fresh := false
	err := s.inTx(ctx, scope{}, func(p *pipeTx) error {
		n, err := dbsqlc.New(p).StripeEventInsert(ctx, dbsqlc.StripeEventInsertParams{EventID: e.ID, Type: e.Type, Created: e.Created, Payload: e.Payload})
		if err != nil || n == 0 {
			return err
		}
		fresh = true
		ptx, err := p.pgxTx(ctx)
		if err != nil {
			return err
		}
		_, err = s.jobs.InsertTx(ctx, ptx, job, nil)
		return err
	})
	return fresh, dbError(err, "stripe event")
}

// StripeEventPayload returns a recorded event's payload.
func (s BillingStore) StripeEventPayload(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		p, err := q.StripeEventPayload(ctx, id)
		out = p
		return err
	})
	return out, dbError(err, "stripe event")
}

// StripeEventDone marks a recorded event processed with its outcome.
func (s BillingStore) StripeEventDone(ctx context.Context, id, outcome string) error {
	return dbError(s.global(ctx, func(q *dbsqlc.Queries) error {
		return q.StripeEventDone(ctx, dbsqlc.StripeEventDoneParams{EventID: id, Outcome: &outcome})
	}), "stripe event")
}

// CustomerSave implements billing.Tx: the tenant's customer row and its global lookup
// row, unless the tenant has a customer already; returns the stored customer.
func (tx billingTx) CustomerSave(ctx context.Context, customerID string) (string, error) {
	t := tenantUID(tx.tenant)
	if err := tx.q.BillingCustomerInsert(ctx, dbsqlc.BillingCustomerInsertParams{TenantID: t, StripeCustomerID: customerID}); err != nil {
		return "", dbError(err, "billing customer")
	}
	r, err := tx.q.BillingCustomerGet(ctx, t)
	if err != nil {
		return "", dbError(err, "billing customer")
	}
	if r.StripeCustomerID == customerID {
		err = tx.q.StripeCustomerInsert(ctx, dbsqlc.StripeCustomerInsertParams{StripeCustomerID: customerID, TenantID: t})
	}
	return r.StripeCustomerID, dbError(err, "billing customer")
}

// SubscriptionGetForUpdate implements billing.Tx.
func (tx billingTx) SubscriptionGetForUpdate(ctx context.Context) (billing.SubscriptionRow, error) {
	r, err := tx.q.SubscriptionGetForUpdate(ctx, tenantUID(tx.tenant))
	if err != nil {
		return billing.SubscriptionRow{}, dbError(err, "subscription")
	}
	return billing.SubscriptionRow{Subscription: subscriptionOf(r), DunningAt: r.DunningAt}, nil
}

// SubscriptionPut implements billing.Tx: false when the stored state is newer (by
// state_at, then state_rank) and stays.
func (tx billingTx) SubscriptionPut(ctx context.Context, s billing.SubscriptionRow) (bool, error) {
	n, err := tx.q.SubscriptionPut(ctx, dbsqlc.SubscriptionPutParams{TenantID: tenantUID(tx.tenant),
		StripeSubscriptionID: s.StripeSubscriptionID, PlanID: s.Plan, Status: s.Status, Quantity: int32(s.Quantity),
		CurrentPeriodEnd: s.CurrentPeriodEnd, CancelAtPeriodEnd: s.CancelAtPeriodEnd, TrialEnd: s.TrialEnd,
		PastDueSince: s.PastDueSince, DowngradedAt: s.DowngradedAt, StateAt: s.StateAt, StateRank: int16(s.StateRank),
		DunningAt: s.DunningAt})
	return n == 1, dbError(err, "subscription")
}

// StripeEventClaim implements billing.Tx: it marks the event processed in this
// transaction (stripe_events is a global table keyed by event id), false when it was
// already.
func (tx billingTx) StripeEventClaim(ctx context.Context, id, outcome string) (bool, error) {
	n, err := tx.q.StripeEventClaim(ctx, dbsqlc.StripeEventClaimParams{EventID: id, Outcome: &outcome})
	return n == 1, dbError(err, "stripe event")
}

// UsageReportedSet implements billing.Tx: it only ever moves forward.
func (tx billingTx) UsageReportedSet(ctx context.Context, through time.Time) error {
	return dbError(tx.q.BillingUsageReportedSet(ctx, dbsqlc.BillingUsageReportedSetParams{TenantID: tenantUID(tx.tenant),
		Through: pgtype.Date{Time: through.UTC(), Valid: true}}), "billing customer")
}

// eraseBillingCustomers is the eraser's step for billing_customers and their lookups.
func eraseBillingCustomers(ctx context.Context, r eraseRun) (map[string]int64, error) {
	ids, err := r.q.EraseBillingCustomers(ctx, r.tenant)
	if err != nil || len(ids) == 0 {
		return one("billing_customers", 0, err)
	}
	n, err := r.q.StripeCustomersDeleteMany(ctx, dbsqlc.StripeCustomersDeleteManyParams{Ids: ids, TenantID: r.tenant})
	return map[string]int64{"billing_customers": int64(len(ids)), "stripe_customers": n}, err
}

func eraseSubscriptions(ctx context.Context, r eraseRun) (map[string]int64, error) {
	n, err := r.q.EraseSubscriptions(ctx, r.tenant)
	return one("subscriptions", n, err)
}

// ProjectCount counts the transaction tenant's projects (work's plan-limit check).
func (tx *Tx) ProjectCount(ctx context.Context) (int64, error) {
	n, err := tx.q.BillingProjectCount(ctx, tenantUID(tx.tenant))
	return n, dbError(err, "project")
}

// SeatCount counts the transaction tenant's members and live pending invitations
// (account's plan-limit check).
func (tx *Tx) SeatCount(ctx context.Context) (members, pending int64, err error) {
	r, err := tx.q.BillingSeatCount(ctx, tenantUID(tx.tenant))
	return r.Members, r.Pending, dbError(err, "membership")
}
