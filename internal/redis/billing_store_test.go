package redis_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/redis"
)

// subscriptions is billing's store under the query cache: one tenant has a
// subscription, the others none; reads are counted.
type subscriptions struct {
	billing.Store
	owner      coditect.TenantID
	reads      atomic.Int32
	planReads  atomic.Int32
	subscribed atomic.Value // string: the owner's plan
}

func (s *subscriptions) Subscription(ctx context.Context) (billing.Subscription, error) {
	s.reads.Add(1)
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return billing.Subscription{}, err
	}
	if t != s.owner {
		return billing.Subscription{}, coditect.Errorf(coditect.CodeNotFound, "no subscription")
	}
	return billing.Subscription{StripeSubscriptionID: "sub_1", Plan: s.subscribed.Load().(string), Status: "active", StateRank: 2}, nil
}

func (s *subscriptions) Plans(context.Context) ([]billing.Plan, error) {
	s.planReads.Add(1)
	return []billing.Plan{{ID: "free", Position: 0}, {ID: "pro", Position: 1}}, nil
}

func TestBillingStoreCachesSubscriptionsPerTenant(t *testing.T) {
	t.Parallel()
	// Its own database: the plan table's key is global, and other packages' tests fill it
	// with the real plans.
	c, err := redis.Open(strings.TrimSuffix(os.Getenv("CODITECT_TEST_REDIS_URL"), "/0") + "/7")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Del(context.Background(), redis.Key("plans")).Err())
	cache := redis.NewCache(c, redis.NewMetrics(nil), nil)
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	next := &subscriptions{owner: a}
	next.subscribed.Store("pro")
	s := redis.NewBillingStore(next, cache)

	for range 3 {
		sub, err := s.Subscription(inTenant(a))
		require.NoError(t, err)
		require.Equal(t, "pro", sub.Plan)
		require.Equal(t, "sub_1", sub.StripeSubscriptionID, "fields the API form hides survive the cache")
		require.Equal(t, 2, sub.StateRank)
	}
	require.EqualValues(t, 1, next.reads.Load())

	t.Run("another tenant sees nothing of it", func(t *testing.T) {
		for range 2 {
			_, err := s.Subscription(inTenant(b))
			require.True(t, coditect.IsNotFound(err))
		}
		require.EqualValues(t, 2, next.reads.Load(), "none is cached too: one read for B")
	})

	next.subscribed.Store("business")
	cache.InvalidateTenant(context.Background(), a)
	sub, err := s.Subscription(inTenant(a))
	require.NoError(t, err)
	require.Equal(t, "business", sub.Plan, "a write in the tenant drops the cached subscription")

	for range 3 {
		plans, err := s.Plans(context.Background())
		require.NoError(t, err)
		require.Len(t, plans, 2)
		require.Equal(t, 1, plans[1].Position)
	}
	require.EqualValues(t, 1, next.planReads.Load())
}

func TestInvoiceCacheIsPerTenant(t *testing.T) {
	t.Parallel()
	cache, reg, _ := cacheSetup(t)
	c := redis.NewBillingCache(cache)
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	ctx := context.Background()
	_, ok := c.Invoices(ctx, a)
	require.False(t, ok)
	c.SetInvoices(ctx, a, []billing.Invoice{{ID: "in_1", Number: "A-1"}})
	got, ok := c.Invoices(ctx, a)
	require.True(t, ok)
	require.Equal(t, "A-1", got[0].Number)
	_, ok = c.Invoices(ctx, b)
	require.False(t, ok, "another tenant's invoices are not found")
	require.Positive(t, cacheCount(t, reg, redis.CacheQuery, "hit"))
}
