package redis

import (
	"context"
	"time"
)

// Throttle counts failures per key in Redis, so every replica sees the same counts.
// When Redis errors, the fallback (an in-process throttle) decides instead: login
// protection degrades to per-replica, it does not switch off.
type Throttle struct {
	client   Client
	fallback interface {
		Blocked(ctx context.Context, key string, limit int) (time.Duration, error)
		Fail(ctx context.Context, key string, window time.Duration) error
		Reset(ctx context.Context, key string) error
	}
}

// NewThrottle returns a Redis-backed throttle with an in-process fallback.
func NewThrottle(c Client, fallback interface {
	Blocked(ctx context.Context, key string, limit int) (time.Duration, error)
	Fail(ctx context.Context, key string, window time.Duration) error
	Reset(ctx context.Context, key string) error
}) *Throttle {
	return &Throttle{client: c, fallback: fallback}
}

func throttleKey(key string) string { return Key("throttle", key) }

// Blocked implements identity.Throttle.
func (t *Throttle) Blocked(ctx context.Context, key string, limit int) (time.Duration, error) {
	k := throttleKey(key)
	pipe := t.client.Pipeline()
	get := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	_, err := pipe.Exec(ctx)
	if err != nil && err != Nil {
		return t.fallback.Blocked(ctx, key, limit)
	}
	n, _ := get.Int()
	if n < limit {
		return 0, nil
	}
	wait := ttl.Val()
	if wait <= 0 {
		wait = time.Second
	}
	return wait, nil
}

// Fail implements identity.Throttle: INCR, and start the window on the first failure.
func (t *Throttle) Fail(ctx context.Context, key string, window time.Duration) error {
	k := throttleKey(key)
	pipe := t.client.TxPipeline()
	pipe.Incr(ctx, k)
	pipe.ExpireNX(ctx, k, window)
	if _, err := pipe.Exec(ctx); err != nil {
		return t.fallback.Fail(ctx, key, window)
	}
	return nil
}

// Reset implements identity.Throttle.
func (t *Throttle) Reset(ctx context.Context, key string) error {
	_ = t.fallback.Reset(ctx, key)
	if err := t.client.Del(ctx, throttleKey(key)).Err(); err != nil {
		return nil // the window expires by itself
	}
	return nil
}
