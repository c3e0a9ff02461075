package worker

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// CacheInvalidateArgs runs a cache invalidation Redis refused when it was first tried
// (a system job: the keys name their tenant or account themselves). Until it succeeds,
// a replica that could reach Redis might still serve the entries it drops.
type CacheInvalidateArgs struct {
	Keys []string `json:"keys"`
}

// Kind implements coditect.Job.
func (CacheInvalidateArgs) Kind() string { return "cache.invalidate" }

// InsertOpts gives the job many quick attempts: it is cheap and urgent.
func (CacheInvalidateArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 100} }

// CacheInvalidator drops cache keys (redis.Cache implements it).
type CacheInvalidator interface {
	InvalidateKeys(ctx context.Context, keys []string) error
}

// CacheInvalidateWorker retries a cache invalidation until Redis takes it.
type CacheInvalidateWorker struct {
	river.WorkerDefaults[CacheInvalidateArgs]
	Cache CacheInvalidator
}

// Work implements river.Worker.
func (w *CacheInvalidateWorker) Work(ctx context.Context, job *river.Job[CacheInvalidateArgs]) error {
	return w.Cache.InvalidateKeys(ctx, job.Args.Keys)
}

// NextRetry retries within seconds, not River's default minutes to hours: an entry
// that should be gone must not be served for long after Redis is back.
func (w *CacheInvalidateWorker) NextRetry(job *river.Job[CacheInvalidateArgs]) time.Time {
	return time.Now().Add(min(time.Duration(job.Attempt)*time.Second, 30*time.Second))
}
