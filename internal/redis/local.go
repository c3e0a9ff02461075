package redis

import (
	"sync"
	"time"
)

// local is a small in-process cache in front of Redis for values that never change
// meaning (an API key prefix's key) or that callers re-check (a slug's tenant): the
// hottest lookups of every request then cost no network round trip at all. It is
// bounded: when full, it starts over.
type local[V any] struct {
	mu      sync.Mutex
	entries map[string]localEntry[V]
	ttl     time.Duration
	max     int
}

type localEntry[V any] struct {
	v       V
	expires time.Time
}

func newLocal[V any](ttl time.Duration, max int) *local[V] {
	return &local[V]{entries: make(map[string]localEntry[V]), ttl: ttl, max: max}
}

func (l *local[V]) get(key string, now time.Time) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok || now.After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (l *local[V]) put(key string, v V, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= l.max {
		clear(l.entries)
	}
	l.entries[key] = localEntry[V]{v: v, expires: now.Add(l.ttl)}
}

func (l *local[V]) drop(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}
