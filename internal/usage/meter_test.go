package usage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// TestMeterCountsFromManyGoroutines counts from 32 goroutines across three tenants
// while another goroutine keeps flushing, then flushes once more: the hourly rows hold
// exactly the calls counted, none lost between a count and a concurrent flush.
func TestMeterCountsFromManyGoroutines(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := newOrg(t, f.store, "tenant-c")
	tenants := []coditect.TenantID{f.a.id, f.b.id, c.id}
	m := usage.NewMeter().WithClock(fixed(hour(10, 14).Add(25 * time.Minute)))

	const goroutines, perGoroutine = 32, 3000
	var counting sync.WaitGroup
	for g := range goroutines {
		counting.Go(func() {
			for i := range perGoroutine {
				m.Count(tenants[(g+i)%len(tenants)])
			}
		})
	}
	stop := make(chan struct{})
	var flushes atomic.Int64
	var flusher sync.WaitGroup
	flusher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := m.Flush(context.Background(), f.store); err != nil {
				t.Error(err)
				return
			}
			flushes.Add(1)
		}
	})
	counting.Wait()
	close(stop)
	flusher.Wait()
	require.NoError(t, m.Flush(context.Background(), f.store))
	require.Empty(t, m.Pending())

	const perTenant = goroutines * perGoroutine / 3
	for _, tenant := range tenants {
		rows := f.rows(t, tenant)
		require.Equal(t, map[time.Time]int64{hour(10, 14): perTenant}, rows.hourly, "every call, in the flush's UTC hour")
		require.True(t, rows.pending, "the tenant is on the roll-up's work list")
	}
	t.Logf("%d flushes ran while counting", flushes.Load())
}

// failing wraps a Recorder and fails every tenant in fail with an unavailable error.
type failing struct {
	usage.Recorder
	fail map[coditect.TenantID]bool
}

func (r failing) UsageRecord(ctx context.Context, hour time.Time, calls int64) error {
	tenant, err := coditect.TenantFrom(ctx)
	if err != nil {
		return err
	}
	if r.fail[tenant] {
		return &coditect.Error{Code: coditect.CodeUnavailable, Message: "the database is unavailable", Err: errors.New("injected")}
	}
	return r.Recorder.UsageRecord(ctx, hour, calls)
}

// TestMeterFlushFailureKeepsCounts: a flush that fails puts back what it did not
// write, so the calls go out, once, with the next flush that succeeds.
func TestMeterFlushFailureKeepsCounts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	m := usage.NewMeter().WithClock(fixed(hour(10, 9)))
	add := func(tenant coditect.TenantID, n int) {
		for range n {
			m.Count(tenant)
		}
	}
	add(f.a.id, 5)
	add(f.b.id, 7)

	t.Run("one tenant fails", func(t *testing.T) {
		err := m.Flush(context.Background(), failing{Recorder: f.store, fail: map[coditect.TenantID]bool{f.b.id: true}})
		require.Error(t, err)
		require.Equal(t, coditect.CodeUnavailable, coditect.ErrorCode(err))
		pending := m.Pending()
		require.EqualValues(t, 7, pending[f.b.id], "the failed tenant's calls are kept")
		// A is written or, if B failed first and stopped the flush, kept: never both, never neither.
		require.EqualValues(t, 5, f.total(t, f.a.id)+pending[f.a.id])
		require.Zero(t, f.total(t, f.b.id))
	})
	t.Run("the database is out of reach", func(t *testing.T) {
		add(f.a.id, 1)
		add(f.b.id, 1)
		before := m.Pending()
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, m.Flush(cancelled, f.store), context.Canceled)
		require.Equal(t, before, m.Pending(), "nothing is lost and nothing doubled")
	})
	t.Run("the next flush writes everything once", func(t *testing.T) {
		add(f.b.id, 2)
		require.NoError(t, m.Flush(context.Background(), f.store))
		require.Empty(t, m.Pending())
		require.Equal(t, map[time.Time]int64{hour(10, 9): 6}, f.rows(t, f.a.id).hourly)
		require.Equal(t, map[time.Time]int64{hour(10, 9): 10}, f.rows(t, f.b.id).hourly)
	})
}

// TestMeterDropsCountsOfAGoneOrganization: an organization deleted (and erased) after
// its calls were counted cannot take them; they are dropped rather than retried
// forever, and the other tenants' calls are written.
func TestMeterDropsCountsOfAGoneOrganization(t *testing.T) {
	t.Parallel()
	f := setup(t)
	gone := coditect.NewID[coditect.TenantID]()
	m := usage.NewMeter().WithClock(fixed(hour(10, 9)))
	m.Count(gone)
	m.Count(f.a.id)
	m.Count(coditect.TenantID{}) // no tenant: not metered
	require.NoError(t, m.Flush(context.Background(), f.store))
	require.Empty(t, m.Pending())
	require.EqualValues(t, 1, f.total(t, f.a.id))
	require.Zero(t, f.count(t, "SELECT 1 FROM usage_pending WHERE organization_id = $1", gone.String()))
}

// TestMeterRun flushes on its interval and once more when stopped.
func TestMeterRun(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("on the interval", func(t *testing.T) {
		m := usage.NewMeter()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx, f.store, 10*time.Millisecond, func(err error) { t.Error(err) }); close(done) }()
		m.Count(f.a.id)
		m.Count(f.a.id)
		require.Eventually(t, func() bool { return f.total(t, f.a.id) == 2 }, 10*time.Second, 10*time.Millisecond)
		cancel()
		<-done
	})
	t.Run("once more on stop", func(t *testing.T) {
		m := usage.NewMeter()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx, f.store, time.Hour, func(err error) { t.Error(err) }); close(done) }()
		m.Count(f.b.id)
		cancel()
		<-done
		require.EqualValues(t, 1, f.total(t, f.b.id))
		require.Empty(t, m.Pending())
	})
	t.Run("failures go to onErr and the counts stay", func(t *testing.T) {
		m := usage.NewMeter()
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 100)
		done := make(chan struct{})
		rec := failing{Recorder: f.store, fail: map[coditect.TenantID]bool{f.a.id: true}}
		go func() {
			m.Run(ctx, rec, 10*time.Millisecond, func(err error) {
				select {
				case errs <- err:
				default:
				}
			})
			close(done)
		}()
		m.Count(f.a.id)
		require.Equal(t, coditect.CodeUnavailable, coditect.ErrorCode(<-errs))
		cancel()
		<-done
		require.EqualValues(t, 1, m.Pending()[f.a.id])
	})
}

// TestMeterAndRollupConcurrently runs flushes and roll-ups of the same tenants at the
// same time (the roll-up bound in the future, so it moves the very hour the flushes
// write): no call is lost or counted twice, and no tenant with hourly rows ever drops
// off the work list (the row locks order each flush with each roll-up).
func TestMeterAndRollupConcurrently(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tenants := []coditect.TenantID{f.a.id, f.b.id}
	m := usage.NewMeter()
	future := time.Now().Add(48 * time.Hour)

	stop := make(chan struct{})
	var counted [2]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := (g + i) % 2
				m.Count(tenants[k])
				counted[k].Add(1)
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := m.Flush(context.Background(), f.store); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := usage.Rollup(context.Background(), f.store, future, 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	require.NoError(t, m.Flush(context.Background(), f.store))

	for _, tenant := range tenants {
		rows := f.rows(t, tenant)
		if len(rows.hourly) > 0 {
			require.True(t, rows.pending, "a tenant with hourly rows is on the work list")
		}
	}
	_, err := usage.Rollup(context.Background(), f.store, future, 1)
	require.NoError(t, err)
	for k, tenant := range tenants {
		rows := f.rows(t, tenant)
		require.Empty(t, rows.hourly)
		require.False(t, rows.pending)
		var sum int64
		for _, n := range rows.daily {
			sum += n
		}
		require.Equal(t, counted[k].Load(), sum, "every call counted once")
		require.Positive(t, sum)
	}
}

// BenchmarkMeterCount measures the hot path: parallel counts spread over 1,000
// tenants, and all on one tenant (the worst case: one shard, one counter).
func BenchmarkMeterCount(b *testing.B) {
	tenants := make([]coditect.TenantID, 1000)
	for i := range tenants {
		tenants[i] = coditect.NewID[coditect.TenantID]()
	}
	b.Run("many tenants", func(b *testing.B) {
		m := usage.NewMeter()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				m.Count(tenants[i%len(tenants)])
				i++
			}
		})
	})
	b.Run("one tenant", func(b *testing.B) {
		m := usage.NewMeter()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Count(tenants[0])
			}
		})
	})
}
