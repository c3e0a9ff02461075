package usage

import (
	"context"
	"fmt"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// RollupBatch is how many tenants one page of the roll-up's work list holds.
const RollupBatch = 500

// Rolled is what one tenant's roll-up moved.
type Rolled struct {
	Hours    int64 // usage_hourly rows moved (and deleted)
	Days     int64 // usage_daily rows created or added to
	APICalls int64 // calls moved
}

// RollupStore is what the roll-up needs (postgres.Store).
type RollupStore interface {
	// SystemUsagePending pages through the organizations that have hourly rows before
	// before, in id order after after (zero: from the start), at most limit of them.
	SystemUsagePending(ctx context.Context, before time.Time, after coditect.TenantID, limit int) ([]coditect.TenantID, error)
	// UsageRollup moves the context tenant's hours before before into their days and
	// deletes them, all in one transaction, and settles the tenant's work-list row.
	UsageRollup(ctx context.Context, before time.Time) (Rolled, error)
}

// RollupResult sums up one roll-up run.
type RollupResult struct {
	Tenants int // tenants rolled up
	Failed  int // tenants whose roll-up failed (left as they were, for the next run)
	Rolled
}

// Rollup moves every tenant's hours before the UTC hour of now into usage_daily: it
// pages through the work list batch tenants at a time (RollupBatch when batch ≤ 0) and
// rolls each tenant up in its own transaction, as a system actor of that tenant. A
// tenant that fails is left untouched and the others carry on; the error then names
// how many failed (the job retries, and finds only those still to do). Running it
// again, after a crash or not, never counts a call twice: an hour is deleted in the
// statement that adds it to its day.
func Rollup(ctx context.Context, store RollupStore, now time.Time, batch int) (RollupResult, error) {
	if batch <= 0 {
		batch = RollupBatch
	}
	before := Hour(now)
	var res RollupResult
	var first error
	var after coditect.TenantID
	for {
		page, err := store.SystemUsagePending(ctx, before, after, batch)
		if err != nil {
			return res, fmt.Errorf("usage: roll-up: list tenants: %w", err)
		}
		for _, tenant := range page {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			r, err := store.UsageRollup(coditect.WithActor(ctx, coditect.SystemActor(tenant)), before)
			if err != nil {
				res.Failed++
				if first == nil {
					first = fmt.Errorf("tenant %s: %w", tenant, err)
				}
				continue
			}
			res.Tenants++
			res.Hours += r.Hours
			res.Days += r.Days
			res.APICalls += r.APICalls
		}
		if len(page) < batch {
			break
		}
		after = page[len(page)-1]
	}
	if first != nil {
		return res, fmt.Errorf("usage: roll-up failed for %d of %d tenants; first: %w", res.Failed, res.Failed+res.Tenants, first)
	}
	return res, nil
}
