package usage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Recorder writes counted calls (postgres.Store).
type Recorder interface {
	// UsageRecord adds calls to the context tenant's row of hour (a UTC hour start) in
	// usage_hourly, in one transaction scoped to that tenant. Not found: the
	// organization no longer exists.
	UsageRecord(ctx context.Context, hour time.Time, calls int64) error
}

// meterShards spreads tenants over independently locked maps, so concurrent requests
// of different tenants rarely touch the same lock.
const meterShards = 64

type meterShard struct {
	// mu guards m itself. Count holds it shared while it adds to a counter, Flush
	// exclusively while it swaps m out: once Flush holds it, no Count can still be
	// adding to a counter of the old map, so the swapped-out counts are final.
	mu sync.RWMutex
	m  map[coditect.TenantID]*atomic.Int64
	_  [64]byte // keep neighbouring shards' locks off one cache line
}

// Meter counts API calls per tenant in memory and writes them out in batches, so the
// hot path costs no database write (the idea of account.KeyUsage).
//
// Cost of Count: a shared lock on one shard, a map lookup and an atomic add; a
// tenant's first call since the last flush also takes the shard's lock exclusively
// once to add its counter. Memory: one counter per tenant counted since the last
// flush (a flush starts from empty maps; counts put back after a failed flush go to
// the same one counter per tenant), so it is bounded by the number of active tenants,
// not by the number of calls or of failed flushes.
type Meter struct {
	shards [meterShards]meterShard
	now    func() time.Time
}

// NewMeter returns an empty meter.
func NewMeter() *Meter {
	m := &Meter{now: time.Now}
	for i := range m.shards {
		m.shards[i].m = map[coditect.TenantID]*atomic.Int64{}
	}
	return m
}

// WithClock sets the clock the meter takes the flush hour from (tests); call it
// before the meter is used.
func (m *Meter) WithClock(now func() time.Time) *Meter {
	m.now = now
	return m
}

func (m *Meter) shard(t coditect.TenantID) *meterShard {
	// TenantIDs are UUIDv7: the leading bytes are a timestamp, the trailing ones random.
	var h byte
	for _, b := range t[8:] {
		h ^= b
	}
	return &m.shards[h%meterShards]
}

// Count records one API call of tenant. A zero tenant is ignored (calls outside an
// organization are not metered). Safe for concurrent use.
func (m *Meter) Count(tenant coditect.TenantID) { m.Add(tenant, 1) }

// Add records n API calls of tenant (n ≤ 0 is ignored). Safe for concurrent use.
func (m *Meter) Add(tenant coditect.TenantID, n int64) {
	if tenant.IsZero() || n <= 0 {
		return
	}
	s := m.shard(tenant)
	s.mu.RLock()
	if c := s.m[tenant]; c != nil {
		c.Add(n)
		s.mu.RUnlock()
		return
	}
	s.mu.RUnlock()
	s.mu.Lock()
	c := s.m[tenant]
	if c == nil {
		c = new(atomic.Int64)
		s.m[tenant] = c
	}
	c.Add(n) // under the exclusive lock: no flush can swap the map meanwhile
	s.mu.Unlock()
}

// Pending returns the calls counted and not yet flushed, per tenant.
func (m *Meter) Pending() map[coditect.TenantID]int64 {
	out := map[coditect.TenantID]int64{}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		for t, c := range s.m {
			if n := c.Load(); n > 0 {
				out[t] = n
			}
		}
		s.mu.RUnlock()
	}
	return out
}

// take swaps every shard's counts out.
func (m *Meter) take() map[coditect.TenantID]int64 {
	batch := map[coditect.TenantID]int64{}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		old := s.m
		s.m = make(map[coditect.TenantID]*atomic.Int64, len(old))
		s.mu.Unlock()
		for t, c := range old {
			if n := c.Load(); n > 0 {
				batch[t] = n
			}
		}
	}
	return batch
}

// Flush writes the calls counted since the last flush to the current UTC hour, one
// transaction per tenant (r.UsageRecord with a system actor of that tenant). Counts of
// an organization that no longer exists are dropped. On any other failure the counts
// not written (the failed tenant's and those not tried yet) are put back for the next
// flush, and the error is returned; the tenants written stay written.
func (m *Meter) Flush(ctx context.Context, r Recorder) error {
	batch := m.take()
	if len(batch) == 0 {
		return nil
	}
	hour := Hour(m.now())
	var failed error
	for tenant, n := range batch {
		if failed == nil {
			if err := ctx.Err(); err != nil {
				failed = err
			} else {
				err := r.UsageRecord(coditect.WithActor(ctx, coditect.SystemActor(tenant)), hour, n)
				switch {
				case err == nil, coditect.IsNotFound(err):
					continue // written, or the organization is gone
				default:
					failed = err
				}
			}
		}
		m.Add(tenant, n) // put back: this tenant failed, or a failure stopped the flush
	}
	if failed != nil {
		return fmt.Errorf("usage: flush: %w", failed)
	}
	return nil
}

// Run flushes every interval and at each UTC hour boundary (so calls are attributed
// to their hour to within a flush's duration) until ctx ends, then once more with a
// context that is not cancelled. Each failure goes to onErr; the counts stay for the
// next flush.
func (m *Meter) Run(ctx context.Context, r Recorder, every time.Duration, onErr func(error)) {
	if every <= 0 {
		every = time.Minute
	}
	timer := time.NewTimer(m.nextFlush(every))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := m.Flush(context.WithoutCancel(ctx), r); err != nil {
				onErr(err)
			}
			return
		case <-timer.C:
			if err := m.Flush(ctx, r); err != nil && ctx.Err() == nil {
				onErr(err)
			}
			timer.Reset(m.nextFlush(every))
		}
	}
}

// nextFlush is how long until the next flush: every, or less to land just after the
// next UTC hour boundary.
func (m *Meter) nextFlush(every time.Duration) time.Duration {
	now := m.now()
	toHour := Hour(now).Add(time.Hour).Sub(now) + time.Millisecond
	return min(every, toHour)
}
