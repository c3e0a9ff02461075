// Package usage meters API calls per tenant for billing (issue 7, item 7).
//
// The path of one call:
//
//  1. Meter.Count, on the request's hot path once its tenant is resolved, adds one to
//     an in-memory counter: no I/O, no allocation once the tenant has a counter, and a
//     shared (read) lock on one of 64 shards.
//  2. Meter.Run flushes every interval (and at each UTC hour boundary, and once more on
//     stop): the counters are swapped out and each tenant's count is added to its row
//     of the current UTC hour in usage_hourly, one short transaction per tenant. A
//     failed flush puts the counts back, so they go out with the next one.
//  3. Rollup, run by the hourly system job worker.UsageRollupArgs, moves every hour
//     before the current one into usage_daily and deletes it, one transaction (and one
//     statement) per tenant, so a crash or a retry never counts a call twice or loses
//     one.
//  4. Service.Usage reads a tenant's days: the rolled-up days plus the hours not yet
//     rolled up, so the answer is current to the last flush.
//
// Counts live in the process until flushed: a process that dies without its final
// flush loses at most one interval of counts (under-billing, never over-billing).
package usage

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// MaxDays is the longest range Usage answers, in days (a leap year).
const MaxDays = 366

// Day is one UTC day's API calls of a tenant.
type Day struct {
	Date     time.Time // midnight UTC
	APICalls int64
}

// dayJSON is Day on the wire: {"date": "2026-04-20", "api_calls": 1234}.
type dayJSON struct {
	Date     string `json:"date"`
	APICalls int64  `json:"api_calls"`
}

// MarshalJSON writes the date as YYYY-MM-DD.
func (d Day) MarshalJSON() ([]byte, error) {
	return json.Marshal(dayJSON{Date: d.Date.UTC().Format(time.DateOnly), APICalls: d.APICalls})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Day) UnmarshalJSON(b []byte) error {
	var j dayJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.DateOnly, j.Date)
	if err != nil {
		return err
	}
	*d = Day{Date: t, APICalls: j.APICalls}
	return nil
}

// Reader reads the context tenant's usage (postgres.Store).
type Reader interface {
	// UsageDays returns the calls per UTC day in [since, until) (both midnights UTC),
	// rolled-up days and not yet rolled-up hours together, oldest first, days with no
	// calls left out.
	UsageDays(ctx context.Context, since, until time.Time) ([]Day, error)
}

// Service serves a tenant's usage to its admins.
type Service struct {
	reader Reader
	now    func() time.Time
}

// NewService returns a Service over r.
func NewService(r Reader) *Service { return &Service{reader: r, now: time.Now} }

// WithClock returns a copy of s that takes "today" from now (tests).
func (s *Service) WithClock(now func() time.Time) *Service {
	c := *s
	c.now = now
	return &c
}

// Usage returns the context tenant's API calls per UTC day from the day of from to the
// day of to, both included (only the dates count; they are taken in UTC), oldest
// first; days without calls are left out. The current day includes every flushed call.
// A zero to means today; a zero from means the first day of to's month. The range must
// not end before it starts nor exceed MaxDays days. Needs admin or higher
// (coditect.ActReadBilling).
func (s *Service) Usage(ctx context.Context, from, to time.Time) ([]Day, error) {
	a, _ := coditect.ActorFrom(ctx)
	if err := coditect.Authorize(a, coditect.ActReadBilling); err != nil {
		return nil, err
	}
	since, until, err := s.Range(from, to)
	if err != nil {
		return nil, err
	}
	days, err := s.reader.UsageDays(ctx, since, until)
	if err != nil {
		return nil, err
	}
	if days == nil {
		days = []Day{}
	}
	return days, nil
}

// Range validates a Usage range and returns it as [since, until), midnights UTC. The
// errors are field errors on "from" and "to" (HTTP 422).
func (s *Service) Range(from, to time.Time) (since, until time.Time, err error) {
	if to.IsZero() {
		to = s.now()
	}
	last := midnight(to)
	first := midnight(from)
	if from.IsZero() {
		first = time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	var fields []coditect.FieldError
	if first.Year() < 2000 || first.Year() > 9999 {
		fields = append(fields, coditect.FieldError{Field: "from", Message: "must be a date between 2000-01-01 and 9999-12-31"})
	}
	if last.Year() < 2000 || last.Year() > 9999 {
		fields = append(fields, coditect.FieldError{Field: "to", Message: "must be a date between 2000-01-01 and 9999-12-31"})
	}
	if len(fields) == 0 {
		switch days := int(last.Sub(first)/(24*time.Hour)) + 1; {
		case days < 1:
			fields = append(fields, coditect.FieldError{Field: "to", Message: "must not be before from"})
		case days > MaxDays:
			fields = append(fields, coditect.FieldError{Field: "to", Message: "must be at most 366 days after from (both included)"})
		}
	}
	if len(fields) > 0 {
		return time.Time{}, time.Time{}, coditect.Invalid(fields...)
	}
	return first, last.AddDate(0, 0, 1), nil
}

// ParseDay parses a date query parameter (YYYY-MM-DD) for Usage: empty is the zero
// time (Usage's default), anything else that is not a date is a field error on field.
func ParseDay(field, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, value)
	if err != nil {
		return time.Time{}, coditect.Invalid(coditect.FieldError{Field: field, Message: "must be a date (YYYY-MM-DD)"})
	}
	return t, nil
}

// midnight returns the start of t's UTC day.
func midnight(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Hour returns the start of t's UTC hour: the usage_hourly row t's calls belong to.
func Hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }
