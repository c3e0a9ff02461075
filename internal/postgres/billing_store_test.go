package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
)

// noopSystemJob is a system job (no tenant) for StripeEventRecord.
type noopSystemJob struct{}

func (noopSystemJob) Kind() string { return "test.noop_system" }

func TestStoreBilling(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	bs := postgres.BillingStore{Store: bn.store}
	ta := coditect.TenantID(uuidOf(t, tenantOf(t, bn, bn.a)))
	at := time.Date(2026, time.March, 10, 9, 0, 0, 0, time.UTC)

	plans, err := bs.Plans(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"free", "pro", "business", "enterprise"}, []string{plans[0].ID, plans[1].ID, plans[2].ID, plans[3].ID})
	require.Equal(t, int64(3), *plans[0].MaxProjects)
	require.Nil(t, plans[3].MaxMembers)

	// Tenant A gets a customer and a subscription.
	require.NoError(t, bs.InBillingTx(bn.a, func(tx billing.Tx) error {
		got, err := tx.CustomerSave(bn.a, "cus_a")
		require.Equal(t, "cus_a", got)
		if err != nil {
			return err
		}
		// A second customer does not replace the first.
		got, err = tx.CustomerSave(bn.a, "cus_a2")
		require.Equal(t, "cus_a", got)
		if err != nil {
			return err
		}
		_, err = tx.SubscriptionPut(bn.a, billing.SubscriptionRow{Subscription: billing.Subscription{StripeSubscriptionID: "sub_a",
			Plan: "pro", Status: "active", Quantity: 3, StateAt: at, StateRank: 2}})
		return err
	}))
	cust, err := bs.Customer(bn.a)
	require.NoError(t, err)
	require.Equal(t, "cus_a", cust)
	tenant, err := bs.TenantByStripeCustomer(context.Background(), "cus_a")
	require.NoError(t, err)
	require.Equal(t, ta, tenant)
	_, err = bs.TenantByStripeCustomer(context.Background(), "cus_a2")
	require.True(t, coditect.IsNotFound(err), "the losing customer gets no lookup row")
	sub, err := bs.Subscription(bn.a)
	require.NoError(t, err)
	require.Equal(t, "pro", sub.Plan)
	require.Equal(t, int64(3), sub.Quantity)
	require.True(t, sub.StateAt.Equal(at))
	page, err := bs.StripeCustomersPage(context.Background(), "", 10)
	require.NoError(t, err)
	require.Equal(t, []billing.CustomerRef{{CustomerID: "cus_a", Tenant: ta}}, page)

	require.NoError(t, bs.InBillingTx(bn.a, func(tx billing.Tx) error { return tx.UsageReportedSet(bn.a, at) }))
	require.NoError(t, bs.InBillingTx(bn.a, func(tx billing.Tx) error { return tx.UsageReportedSet(bn.a, at.AddDate(0, 0, -3)) }))
	through, err := bs.UsageReportedThrough(bn.a)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, time.March, 10, 0, 0, 0, 0, time.UTC), through, "the watermark never moves back")

	n, err := bs.MemberCount(bn.a)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	owners, err := bs.OwnerEmails(bn.a)
	require.NoError(t, err)
	require.Equal(t, []string{"tenant-a@example.com"}, owners)
	name, err := bs.OrganizationName(bn.a)
	require.NoError(t, err)
	require.Equal(t, "tenant-a", name)

	t.Run("events are recorded once", func(t *testing.T) {
		t.Parallel()
		ev := billing.Event{ID: "evt_1", Type: "invoice.paid", Created: at, Payload: json.RawMessage(`{"id":"evt_1"}`)}
		fresh, err := bs.StripeEventRecord(context.Background(), ev, noopSystemJob{})
		require.NoError(t, err)
		require.True(t, fresh)
		fresh, err = bs.StripeEventRecord(context.Background(), ev, noopSystemJob{})
		require.NoError(t, err)
		require.False(t, fresh)
		var jobs int
		require.NoError(t, rawPool(t, bn).QueryRow(context.Background(), "SELECT count(*) FROM river_job WHERE kind = 'test.noop_system'").Scan(&jobs))
		require.Equal(t, 1, jobs, "a duplicate enqueues nothing")
		p, err := bs.StripeEventPayload(context.Background(), "evt_1")
		require.NoError(t, err)
		require.JSONEq(t, `{"id":"evt_1"}`, string(p))
		require.NoError(t, bs.StripeEventDone(context.Background(), "evt_1", "applied"))
		_, err = bs.StripeEventPayload(context.Background(), "evt_nope")
		require.True(t, coditect.IsNotFound(err))
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		t.Parallel()
		_, err := bs.Customer(bn.b)
		require.True(t, coditect.IsNotFound(err))
		_, err = bs.Subscription(bn.b)
		require.True(t, coditect.IsNotFound(err))
		_, err = bs.UsageReportedThrough(bn.b)
		require.True(t, coditect.IsNotFound(err))
		n, err := bs.MemberCount(bn.b)
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		owners, err := bs.OwnerEmails(bn.b)
		require.NoError(t, err)
		require.Equal(t, []string{"tenant-b@example.com"}, owners)
		require.NoError(t, bs.InBillingTx(bn.b, func(tx billing.Tx) error {
			_, err := tx.SubscriptionGetForUpdate(bn.b)
			require.True(t, coditect.IsNotFound(err))
			require.NoError(t, tx.UsageReportedSet(bn.b, at)) // touches no row of A
			return nil
		}))
		through, err := bs.UsageReportedThrough(bn.a)
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, time.March, 10, 0, 0, 0, 0, time.UTC), through)
	})

	t.Run("no tenant fails closed", func(t *testing.T) {
		t.Parallel()
		_, err := bs.Subscription(context.Background())
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
		_, err = bs.Customer(context.Background())
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
	})
}

func TestStoreBillingLimitCounts(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	require.NoError(t, bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
		members, pending, err := tx.SeatCount(bn.a)
		require.Equal(t, int64(1), members)
		require.Equal(t, int64(0), pending)
		n, err2 := tx.ProjectCount(bn.a)
		require.NoError(t, err2)
		require.Equal(t, int64(0), n)
		return err
	}))
}

// A subscription with no row yet: two events race to insert it, and the one that loses
// the race (its state older) must not overwrite the newer one (the upsert's guard, as
// SELECT … FOR UPDATE locks nothing when there is no row).
func TestStoreSubscriptionPutKeepsNewerState(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	bs := postgres.BillingStore{Store: bn.store}
	t0 := time.Date(2026, time.March, 10, 9, 0, 0, 0, time.UTC)
	row := func(status string, at time.Time, rank int) billing.SubscriptionRow {
		return billing.SubscriptionRow{Subscription: billing.Subscription{StripeSubscriptionID: "sub_new", Plan: "pro",
			Status: status, Quantity: 1, StateAt: at, StateRank: rank}, DunningAt: &at}
	}
	put := func(ctx context.Context, r billing.SubscriptionRow) bool {
		t.Helper()
		var applied bool
		require.NoError(t, bs.InBillingTx(ctx, func(tx billing.Tx) (err error) {
			applied, err = tx.SubscriptionPut(ctx, r)
			return err
		}))
		return applied
	}

	// The update (active, t0+1s) commits first; the creation (incomplete, t0) that
	// saw no row and inserts after it is refused.
	require.True(t, put(bn.a, row("active", t0.Add(time.Second), 2)))
	require.False(t, put(bn.a, row("incomplete", t0, 1)))
	// Same second: the higher rank wins, an equal one replaces (an idempotent repeat).
	require.False(t, put(bn.a, row("incomplete", t0.Add(time.Second), 1)))
	require.True(t, put(bn.a, row("active", t0.Add(time.Second), 2)))
	sub, err := bs.Subscription(bn.a)
	require.NoError(t, err)
	require.Equal(t, "active", sub.Status)
	require.NoError(t, bs.InBillingTx(bn.a, func(tx billing.Tx) error {
		got, err := tx.SubscriptionGetForUpdate(bn.a)
		require.NotNil(t, got.DunningAt)
		require.True(t, got.DunningAt.Equal(t0.Add(time.Second)))
		return err
	}))
	require.True(t, put(bn.a, row("canceled", t0.Add(time.Minute), 3)))
	sub, err = bs.Subscription(bn.a)
	require.NoError(t, err)
	require.Equal(t, "canceled", sub.Status)

	t.Run("other tenant", func(t *testing.T) {
		t.Parallel()
		// B's older state is B's own first row: A's newer one does not block it, and
		// A's row is untouched.
		require.True(t, put(bn.b, row("incomplete", t0, 1)))
		sub, err := bs.Subscription(bn.a)
		require.NoError(t, err)
		require.Equal(t, "canceled", sub.Status)
	})
}

// StripeEventClaim marks an event processed in a tenant's transaction once.
func TestStoreStripeEventClaim(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	bs := postgres.BillingStore{Store: bn.store}
	ev := billing.Event{ID: "evt_claim", Type: "customer.subscription.trial_will_end", Created: time.Now(), Payload: json.RawMessage(`{"id":"evt_claim"}`)}
	_, err := bs.StripeEventRecord(context.Background(), ev, noopSystemJob{})
	require.NoError(t, err)
	claim := func() bool {
		var ok bool
		require.NoError(t, bs.InBillingTx(bn.a, func(tx billing.Tx) (err error) {
			ok, err = tx.StripeEventClaim(bn.a, "evt_claim", "applied")
			return err
		}))
		return ok
	}
	require.True(t, claim())
	require.False(t, claim(), "claimed once")
}
