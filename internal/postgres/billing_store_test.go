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
		return tx.SubscriptionPut(bn.a, billing.Subscription{StripeSubscriptionID: "sub_a", Plan: "pro", Status: "active", Quantity: 3,
			StateAt: at, StateRank: 2})
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
