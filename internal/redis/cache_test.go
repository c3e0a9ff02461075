package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/redis"
)

// cacheSetup returns a cache on the test Redis and its metrics' registry.
func cacheSetup(t *testing.T) (*redis.Cache, *prometheus.Registry, redis.Client) {
	t.Helper()
	c := setup(t)
	reg := prometheus.NewRegistry()
	m := redis.NewMetrics(reg)
	redis.Instrument(c, m)
	return redis.NewCache(c, m, nil), reg, c
}

func cacheCount(t *testing.T, reg *prometheus.Registry, cache, result string) float64 {
	t.Helper()
	return metricSum(t, reg, "coditect_cache_requests_total", map[string]string{"cache": cache, "result": result})
}

// sessions is the identity store under the session cache: it counts reads, and a
// revoked session is gone from it, as from the database.
type sessions struct {
	identity.Store
	reads   atomic.Int32
	revoked atomic.Bool
	sess    identity.Session
}

func (s *sessions) SessionGet(_ context.Context, a coditect.AccountID, id coditect.SessionID) (identity.Session, error) {
	s.reads.Add(1)
	if s.revoked.Load() || a != s.sess.AccountID || id != s.sess.ID {
		return identity.Session{}, coditect.Errorf(coditect.CodeNotFound, "session not found")
	}
	return s.sess, nil
}

func (s *sessions) SessionRevoke(context.Context, coditect.AccountID, coditect.SessionID) error {
	s.revoked.Store(true)
	return nil
}

func (s *sessions) AccountSetPassword(context.Context, coditect.AccountID, string) error {
	s.revoked.Store(true)
	return nil
}

func newSession() identity.Session {
	return identity.Session{ID: coditect.NewID[coditect.SessionID](), AccountID: coditect.NewID[coditect.AccountID](),
		CookieHash: []byte("cookie-hash"), RefreshHash: []byte("refresh-hash"),
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
}

func TestSessionCacheHitAndImmediateRevocation(t *testing.T) {
	t.Parallel()
	cache, reg, _ := cacheSetup(t)
	ctx := context.Background()
	for _, revoke := range []string{"logout", "password change"} {
		t.Run(revoke, func(t *testing.T) {
			next := &sessions{sess: newSession()}
			store := redis.NewSessionStore(next, cache)
			s := next.sess

			got, err := store.SessionGet(ctx, s.AccountID, s.ID)
			require.NoError(t, err)
			require.Equal(t, s.CookieHash, got.CookieHash)
			for range 3 {
				got, err = store.SessionGet(ctx, s.AccountID, s.ID)
				require.NoError(t, err)
				require.Equal(t, s.CookieHash, got.CookieHash, "the cached copy keeps the hashes the JSON form hides")
				require.Equal(t, s.RefreshHash, got.RefreshHash)
			}
			require.EqualValues(t, 1, next.reads.Load(), "after the first check, the cache answers")

			if revoke == "logout" {
				require.NoError(t, store.SessionRevoke(ctx, s.AccountID, s.ID))
			} else {
				require.NoError(t, store.AccountSetPassword(ctx, s.AccountID, "new hash"))
			}
			_, err = store.SessionGet(ctx, s.AccountID, s.ID)
			require.True(t, coditect.IsNotFound(err), "a revoked session fails at once, not after the TTL")
		})
	}
	require.Positive(t, cacheCount(t, reg, redis.CacheSession, "hit"))
	require.Positive(t, cacheCount(t, reg, redis.CacheSession, "miss"))
}

func TestSessionCacheKeepsAccountsApart(t *testing.T) {
	t.Parallel()
	cache, _, _ := cacheSetup(t)
	ctx := context.Background()
	next := &sessions{sess: newSession()}
	store := redis.NewSessionStore(next, cache)
	_, err := store.SessionGet(ctx, next.sess.AccountID, next.sess.ID)
	require.NoError(t, err)
	// The same session id under another account is not that session.
	_, err = store.SessionGet(ctx, coditect.NewID[coditect.AccountID](), next.sess.ID)
	require.True(t, coditect.IsNotFound(err))
}

func TestSessionCacheDoesNotServeAnExpiredSession(t *testing.T) {
	t.Parallel()
	cache, _, _ := cacheSetup(t)
	ctx := context.Background()
	next := &sessions{sess: newSession()}
	next.sess.ExpiresAt = time.Now().Add(300 * time.Millisecond)
	store := redis.NewSessionStore(next, cache)
	_, err := store.SessionGet(ctx, next.sess.AccountID, next.sess.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := store.SessionGet(ctx, next.sess.AccountID, next.sess.ID)
		return coditect.IsNotFound(err)
	}, 5*time.Second, 50*time.Millisecond)
}

// members is account's tenant reader under the query cache, counting reads.
type members struct {
	account.TenantReader
	reads atomic.Int32
	role  atomic.Value // coditect.Role
}

func (m *members) MembershipGet(ctx context.Context, id coditect.AccountID) (account.Membership, error) {
	m.reads.Add(1)
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return account.Membership{}, err
	}
	return account.Membership{Tenant: t, AccountID: id, Role: m.role.Load().(coditect.Role)}, nil
}

func inTenant(t coditect.TenantID) context.Context {
	return coditect.WithActor(context.Background(), coditect.SystemActor(t))
}

func TestQueryCacheIsDroppedByATenantWrite(t *testing.T) {
	t.Parallel()
	cache, reg, _ := cacheSetup(t)
	next := &members{}
	next.role.Store(coditect.RoleAdmin)
	r := redis.NewAccountReader(next, cache)
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	who := coditect.NewID[coditect.AccountID]()

	for range 3 {
		m, err := r.MembershipGet(inTenant(a), who)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleAdmin, m.Role)
	}
	require.EqualValues(t, 1, next.reads.Load())

	t.Run("another tenant does not see the entry", func(t *testing.T) {
		m, err := r.MembershipGet(inTenant(b), who)
		require.NoError(t, err)
		require.Equal(t, b, m.Tenant)
		require.EqualValues(t, 2, next.reads.Load(), "tenant B's lookup went to the store")
	})

	next.role.Store(coditect.RoleViewer) // the role changes in the database…
	cache.InvalidateTenant(context.Background(), a)
	m, err := r.MembershipGet(inTenant(a), who)
	require.NoError(t, err)
	require.Equal(t, coditect.RoleViewer, m.Role, "…and the next read sees it")
	require.Positive(t, cacheCount(t, reg, redis.CacheQuery, "hit"))
	require.Positive(t, counterSum(t, reg, "coditect_cache_invalidations_total"))
}

// counterSum sums a counter family over all its series.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return metricSum(t, reg, name, nil)
}

// metricSum sums the counter series of family name whose labels include want.
func metricSum(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestAFillThatRacedAWriteIsNotStored(t *testing.T) {
	t.Parallel()
	cache, _, _ := cacheSetup(t)
	ctx := context.Background()
	tenant := coditect.NewID[coditect.TenantID]()
	var v string
	st, hit := cache.Get(ctx, tenant, redis.CacheQuery, "settings", time.Minute, &v)
	require.False(t, hit)
	// A write commits and invalidates while the reader is at the database…
	cache.InvalidateTenant(ctx, tenant)
	// …so the value the reader computed from the old state must not be cached.
	cache.Fill(ctx, st, time.Minute, "stale")
	_, hit = cache.Get(ctx, tenant, redis.CacheQuery, "settings", time.Minute, &v)
	require.False(t, hit)

	st, _ = cache.Get(ctx, tenant, redis.CacheQuery, "settings", time.Minute, &v)
	cache.Fill(ctx, st, time.Minute, "fresh")
	_, hit = cache.Get(ctx, tenant, redis.CacheQuery, "settings", time.Minute, &v)
	require.True(t, hit)
	require.Equal(t, "fresh", v)
}

func TestResponseCacheIsPerTenant(t *testing.T) {
	t.Parallel()
	cache, reg, _ := cacheSetup(t)
	ctx := context.Background()
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	const key = "admin\x00GET /v1/orgs/{org}/projects\x00/v1/orgs/acme/projects"
	_, fill, hit := cache.LookupResponse(ctx, a, key)
	require.False(t, hit)
	fill([]byte("tenant A's projects"))
	got, _, hit := cache.LookupResponse(ctx, a, key)
	require.True(t, hit)
	require.Equal(t, "tenant A's projects", string(got))
	_, _, hit = cache.LookupResponse(ctx, b, key)
	require.False(t, hit, "the same key in tenant B finds nothing of A's")
	cache.InvalidateTenant(ctx, a)
	_, _, hit = cache.LookupResponse(ctx, a, key)
	require.False(t, hit)
	require.Positive(t, cacheCount(t, reg, redis.CacheResponse, "hit"))
}

func TestCacheBypassedAndInvalidationRetriedWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	c, err := redis.Open("redis://127.0.0.1:1/0") // nothing listens on port 1
	require.NoError(t, err)
	defer c.Close()
	reg := prometheus.NewRegistry()
	m := redis.NewMetrics(reg)
	redis.Instrument(c, m)
	var retried [][]string
	cache := redis.NewCache(c, m, func(_ context.Context, keys []string) { retried = append(retried, keys) })
	next := &sessions{sess: newSession()}
	store := redis.NewSessionStore(next, cache)
	for range 2 {
		_, err := store.SessionGet(context.Background(), next.sess.AccountID, next.sess.ID)
		require.NoError(t, err, "the database answers")
	}
	require.EqualValues(t, 2, next.reads.Load())
	require.NoError(t, store.SessionRevoke(context.Background(), next.sess.AccountID, next.sess.ID))
	require.Len(t, retried, 1, "the failed invalidation went to the retry hook")
	require.Contains(t, retried[0], "v1:a:{"+next.sess.AccountID.String()+"}:c:session")
	require.Equal(t, float64(2), cacheCount(t, reg, redis.CacheSession, "error"))
	require.Positive(t, counterSum(t, reg, "coditect_redis_errors_total"))
}

func TestACanceledRequestDoesNotTripTheBreaker(t *testing.T) {
	t.Parallel()
	cache, reg, _ := cacheSetup(t)
	tenant := coditect.NewID[coditect.TenantID]()
	var v string
	st, _ := cache.Get(context.Background(), tenant, redis.CacheQuery, "k", time.Minute, &v)
	cache.Fill(context.Background(), st, time.Minute, "cached")

	canceled, cancel := context.WithCancel(context.Background())
	cancel() // the client went away mid-request
	_, hit := cache.Get(canceled, tenant, redis.CacheQuery, "k", time.Minute, &v)
	require.False(t, hit)

	_, hit = cache.Get(context.Background(), tenant, redis.CacheQuery, "k", time.Minute, &v)
	require.True(t, hit, "the entry is still trusted and Redis still used")
	require.Zero(t, counterSum(t, reg, "coditect_redis_errors_total"))
}
