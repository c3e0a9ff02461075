package redis_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/redis"
)

func setup(t *testing.T) redis.Client {
	t.Helper()
	url := os.Getenv("CODITECT_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("CODITECT_TEST_REDIS_URL is not set: run the tests with `make test`, which starts a private Redis")
	}
	c, err := redis.Open(url)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTenantKeysAreNamespacedAndVersioned(t *testing.T) {
	t.Parallel()
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	ka, kb := redis.TenantKey(a, "cache", "org"), redis.TenantKey(b, "cache", "org")
	require.NotEqual(t, ka, kb)
	require.Equal(t, "v1:t:{"+a.String()+"}:cache:org", ka)
	require.Equal(t, "v1:g:ratelimit:ip:127.0.0.1", redis.Key("ratelimit", "ip", "127.0.0.1"))
}

func TestOpenPingAndIsolation(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ctx := context.Background()
	require.NoError(t, redis.Ping(ctx, c))
	a, b := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.TenantID]()
	require.NoError(t, c.Set(ctx, redis.TenantKey(a, "greeting"), "hello a", time.Minute).Err())
	got, err := c.Get(ctx, redis.TenantKey(a, "greeting")).Result()
	require.NoError(t, err)
	require.Equal(t, "hello a", got)
	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := c.Get(ctx, redis.TenantKey(b, "greeting")).Result()
		require.ErrorIs(t, err, redis.Nil)
	})
}

func TestPingFailsFastWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	c, err := redis.Open("redis://127.0.0.1:1/0") // nothing listens on port 1
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	require.Error(t, redis.Ping(context.Background(), c))
	require.Less(t, time.Since(start), 3*time.Second, "fails in milliseconds, not a long timeout")
}

func TestOpenRejectsBadURL(t *testing.T) {
	t.Parallel()
	_, err := redis.Open("http://nope")
	require.ErrorContains(t, err, "REDIS_URL")
}
