package worker

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"
)

// OAuthPurgeArgs is the periodic system job that deletes the OAuth provider's expired
// authorization codes, access and refresh tokens and their PKCE and OpenID Connect
// sessions.
type OAuthPurgeArgs struct{}

// Kind implements coditect.Job.
func (OAuthPurgeArgs) Kind() string { return "maintenance.purge_expired_oauth" }

// OAuthPurger is what the OAuth purge job needs from the store.
type OAuthPurger interface {
	SystemPurgeExpiredOAuthRequests(ctx context.Context) (int64, error)
}

// OAuthPurgeWorker runs OAuthPurgeArgs.
type OAuthPurgeWorker struct {
	river.WorkerDefaults[OAuthPurgeArgs]
	Store OAuthPurger
	Log   *slog.Logger
}

// Work implements river.Worker.
func (w *OAuthPurgeWorker) Work(ctx context.Context, _ *river.Job[OAuthPurgeArgs]) error {
	n, err := w.Store.SystemPurgeExpiredOAuthRequests(ctx)
	if err != nil {
		return err
	}
	w.Log.InfoContext(ctx, "purged expired OAuth codes and tokens", "oauth_requests", n)
	return nil
}
