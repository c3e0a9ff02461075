package account

import (
	"context"
	"sync"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// KeyUsage remembers when API keys were last used and writes it out in batches, so a
// busy key costs no database write per request.
type KeyUsage struct {
	mu   sync.Mutex
	used map[coditect.TenantID]map[coditect.APIKeyID]time.Time
}

// NewKeyUsage returns an empty recorder.
func NewKeyUsage() *KeyUsage {
	return &KeyUsage{used: map[coditect.TenantID]map[coditect.APIKeyID]time.Time{}}
}

// Record notes that key was used at t.
func (u *KeyUsage) Record(tenant coditect.TenantID, key coditect.APIKeyID, t time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.used[tenant]
	if m == nil {
		m = map[coditect.APIKeyID]time.Time{}
		u.used[tenant] = m
	}
	if t.After(m[key]) {
		m[key] = t
	}
}

// Flush writes what was recorded since the last flush. On failure the times are kept
// for the next flush.
func (u *KeyUsage) Flush(ctx context.Context, l Lookups) error {
	u.mu.Lock()
	batch := u.used
	u.used = map[coditect.TenantID]map[coditect.APIKeyID]time.Time{}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := l.APIKeysTouch(ctx, batch); err != nil {
		for tenant, keys := range batch {
			for k, t := range keys {
				u.Record(tenant, k, t)
			}
		}
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (u *KeyUsage) Run(ctx context.Context, l Lookups, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := u.Flush(context.WithoutCancel(ctx), l); err != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := u.Flush(ctx, l); err != nil {
				onErr(err)
			}
		}
	}
}
