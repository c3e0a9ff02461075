package usage_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// TestUsage reads a tenant's days: rolled-up days and hours not rolled up yet
// together, so the answer is current to the last flush.
func TestUsage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	svc := usage.NewService(f.store).WithClock(fixed(hour(11, 7).Add(30 * time.Minute)))

	// Hours of the 10th and the 11th, flushed by a meter; the 10th then rolled up.
	for _, h := range []struct {
		at   time.Time
		a, b int
	}{{hour(10, 3), 4, 1}, {hour(10, 23), 6, 0}, {hour(11, 0), 2, 0}, {hour(11, 7), 3, 0}} {
		m := usage.NewMeter().WithClock(fixed(h.at.Add(10 * time.Minute)))
		for range h.a {
			m.Count(f.a.id)
		}
		for range h.b {
			m.Count(f.b.id)
		}
		require.NoError(t, m.Flush(context.Background(), f.store))
	}
	_, err := usage.Rollup(context.Background(), f.store, hour(11, 0), 0)
	require.NoError(t, err)
	require.Equal(t, map[time.Time]int64{day(10): 10}, f.rows(t, f.a.id).daily)
	require.Len(t, f.rows(t, f.a.id).hourly, 2, "the 11th is not rolled up yet")

	want := []usage.Day{{Date: day(10), APICalls: 10}, {Date: day(11), APICalls: 5}}
	for _, ctx := range []context.Context{f.a.owner, f.a.admin} {
		days, err := svc.Usage(ctx, day(1), day(31))
		require.NoError(t, err)
		require.Equal(t, want, days)
	}

	t.Run("the dates are days, both included, taken in UTC", func(t *testing.T) {
		days, err := svc.Usage(f.a.admin, hour(11, 0), hour(11, 0))
		require.NoError(t, err)
		require.Equal(t, []usage.Day{{Date: day(11), APICalls: 5}}, days)
		late := time.FixedZone("UTC-5", -5*3600)
		days, err = svc.Usage(f.a.admin, time.Date(2026, time.March, 9, 20, 0, 0, 0, late), time.Date(2026, time.March, 9, 20, 0, 0, 0, late))
		require.NoError(t, err)
		require.Equal(t, []usage.Day{{Date: day(10), APICalls: 10}}, days, "20:00 at UTC-5 on the 9th is the 10th in UTC")
		days, err = svc.Usage(f.a.admin, day(12), day(20))
		require.NoError(t, err)
		require.NotNil(t, days)
		require.Empty(t, days)
	})
	t.Run("defaults: the month so far", func(t *testing.T) {
		days, err := svc.Usage(f.a.admin, time.Time{}, time.Time{})
		require.NoError(t, err)
		require.Equal(t, want, days)
		days, err = svc.Usage(f.a.admin, time.Time{}, day(10))
		require.NoError(t, err)
		require.Equal(t, want[:1], days)
	})
	t.Run("a member or viewer is forbidden", func(t *testing.T) {
		for _, ctx := range []context.Context{f.a.member, f.a.viewer} {
			_, err := svc.Usage(ctx, day(1), day(31))
			require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
		}
		_, err := svc.Usage(context.Background(), day(1), day(31))
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
	})
	t.Run("bad ranges are field errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			from, to time.Time
			field    string
		}{
			"to before from":   {day(11), day(10), "to"},
			"367 days":         {day(1), day(1).AddDate(0, 0, 366), "to"},
			"from before 2000": {time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), day(1), "from"},
			"to after 9999":    {day(1), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "to"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := svc.Usage(f.a.admin, c.from, c.to)
				require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err))
				var ce *coditect.Error
				require.ErrorAs(t, err, &ce)
				require.Len(t, ce.Fields, 1)
				require.Equal(t, c.field, ce.Fields[0].Field)
			})
		}
		_, err := svc.Usage(f.a.admin, day(1), day(1).AddDate(0, 0, 365))
		require.NoError(t, err, "366 days, both included, is the limit")
		_, err = svc.Usage(f.a.member, day(11), day(10))
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err), "authorization comes first")
	})
	t.Run("other tenant sees nothing", func(t *testing.T) {
		days, err := svc.Usage(f.b.owner, day(1), day(31))
		require.NoError(t, err)
		require.Equal(t, []usage.Day{{Date: day(10), APICalls: 1}}, days, "B sees only its own call")
	})
}

func TestDayJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal([]usage.Day{{Date: day(10), APICalls: 42}})
	require.NoError(t, err)
	require.JSONEq(t, `[{"date":"2026-03-10","api_calls":42}]`, string(b))
	var back []usage.Day
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, []usage.Day{{Date: day(10), APICalls: 42}}, back)
}

func TestParseDay(t *testing.T) {
	t.Parallel()
	d, err := usage.ParseDay("from", "2026-03-10")
	require.NoError(t, err)
	require.Equal(t, day(10), d)
	d, err = usage.ParseDay("from", "")
	require.NoError(t, err)
	require.True(t, d.IsZero())
	for _, bad := range []string{"2026-3-10", "2026-02-30", "yesterday", "2026-03-10T00:00:00Z"} {
		_, err := usage.ParseDay("to", bad)
		var ce *coditect.Error
		require.ErrorAs(t, err, &ce, bad)
		require.Equal(t, coditect.CodeInvalid, ce.Code)
		require.Equal(t, "to", ce.Fields[0].Field)
	}
}
