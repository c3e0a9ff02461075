package identity

import (
	"context"
	"sync"
	"time"
)

// Throttle counts failures per key (an IP, an account) in a fixed window and says how
// long to wait once the limit is reached. The Redis implementation shares counts across
// replicas; MemoryThrottle is the fallback when Redis is not configured.
type Throttle interface {
	// Blocked reports whether key has reached limit failures in the current window,
	// and if so how long until it may try again.
	Blocked(ctx context.Context, key string, limit int) (time.Duration, error)
	// Fail records one failure for key.
	Fail(ctx context.Context, key string, window time.Duration) error
	// Reset forgets key's failures (after a success).
	Reset(ctx context.Context, key string) error
}

// MemoryThrottle is an in-process Throttle.
type MemoryThrottle struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	count int
	until time.Time
}

// NewMemoryThrottle returns an empty in-process throttle.
func NewMemoryThrottle(now func() time.Time) *MemoryThrottle {
	if now == nil {
		now = time.Now
	}
	return &MemoryThrottle{now: now, entries: map[string]*throttleEntry{}}
}

// Blocked implements Throttle.
func (m *MemoryThrottle) Blocked(_ context.Context, key string, limit int) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	now := m.now()
	if e == nil || !now.Before(e.until) {
		return 0, nil
	}
	if e.count >= limit {
		return e.until.Sub(now), nil
	}
	return 0, nil
}

// Fail implements Throttle.
func (m *MemoryThrottle) Fail(_ context.Context, key string, window time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.entries) > 100_000 { // bound memory under attack: drop expired entries
		for k, e := range m.entries {
			if !now.Before(e.until) {
				delete(m.entries, k)
			}
		}
	}
	e := m.entries[key]
	if e == nil || !now.Before(e.until) {
		e = &throttleEntry{until: now.Add(window)}
		m.entries[key] = e
	}
	e.count++
	return nil
}

// Reset implements Throttle.
func (m *MemoryThrottle) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}
