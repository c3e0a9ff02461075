package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/redis"
)

func TestThrottleCountsAcrossReplicas(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ctx := context.Background()
	// Two replicas share Redis; each has its own in-process fallback.
	a := redis.NewThrottle(c, identity.NewMemoryThrottle(nil))
	b := redis.NewThrottle(c, identity.NewMemoryThrottle(nil))
	key := "login:acct:" + coditect.NewID[coditect.AccountID]().String()
	for range 3 {
		require.NoError(t, a.Fail(ctx, key, time.Minute))
	}
	wait, err := b.Blocked(ctx, key, 3)
	require.NoError(t, err)
	require.Greater(t, wait, 50*time.Second, "the other replica sees the failures and the window")
	wait, err = b.Blocked(ctx, key, 4)
	require.NoError(t, err)
	require.Zero(t, wait)
	require.NoError(t, b.Reset(ctx, key))
	wait, err = a.Blocked(ctx, key, 3)
	require.NoError(t, err)
	require.Zero(t, wait)
}

func TestThrottleFallsBackWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	down, err := redis.Open("redis://127.0.0.1:1/0")
	require.NoError(t, err)
	defer down.Close()
	th := redis.NewThrottle(down, identity.NewMemoryThrottle(nil))
	ctx := context.Background()
	for range 2 {
		require.NoError(t, th.Fail(ctx, "k", time.Minute))
	}
	wait, err := th.Blocked(ctx, "k", 2)
	require.NoError(t, err)
	require.Positive(t, wait, "still throttled, in process")
}

var _ identity.Throttle = (*redis.Throttle)(nil)
