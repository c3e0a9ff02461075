package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

// IdentityMailer is what the identity email jobs call.
type IdentityMailer interface {
	SendWelcome(ctx context.Context, id coditect.AccountID, orgs identity.OrgReader) error
	SendVerification(ctx context.Context, id coditect.AccountID) error
	SendPasswordReset(ctx context.Context, id coditect.AccountID) error
}

// WelcomeWorker sends the welcome (and verification) email after sign-up.
type WelcomeWorker struct {
	river.WorkerDefaults[identity.WelcomeArgs]
	Identity IdentityMailer
	Orgs     identity.OrgReader
}

// Work implements river.Worker.
func (w *WelcomeWorker) Work(ctx context.Context, job *river.Job[identity.WelcomeArgs]) error {
	return w.Identity.SendWelcome(ctx, job.Args.AccountID, w.Orgs)
}

// VerifyEmailWorker re-sends an email verification link.
type VerifyEmailWorker struct {
	river.WorkerDefaults[identity.VerifyEmailArgs]
	Identity IdentityMailer
}

// Work implements river.Worker.
func (w *VerifyEmailWorker) Work(ctx context.Context, job *river.Job[identity.VerifyEmailArgs]) error {
	return w.Identity.SendVerification(ctx, job.Args.AccountID)
}

// PasswordResetWorker sends a password reset link.
type PasswordResetWorker struct {
	river.WorkerDefaults[identity.PasswordResetArgs]
	Identity IdentityMailer
}

// Work implements river.Worker.
func (w *PasswordResetWorker) Work(ctx context.Context, job *river.Job[identity.PasswordResetArgs]) error {
	return w.Identity.SendPasswordReset(ctx, job.Args.AccountID)
}

// Timeout keeps a reset link job from retrying for long: a stale reset email is worse
// than none.
func (w *PasswordResetWorker) Timeout(*river.Job[identity.PasswordResetArgs]) time.Duration {
	return 30 * time.Second
}

// InvitationSender is what the invitation email job calls.
type InvitationSender interface {
	SendInvitation(ctx context.Context, id coditect.InvitationID, mailer account.Mailer, baseURL string) error
}

// InvitationWorker mints an invitation's accept token and emails it.
type InvitationWorker struct {
	river.WorkerDefaults[account.InvitationArgs]
	Accounts InvitationSender
	Mailer   account.Mailer
	BaseURL  string
}

// Work implements river.Worker.
func (w *InvitationWorker) Work(ctx context.Context, job *river.Job[account.InvitationArgs]) error {
	return w.Accounts.SendInvitation(ctx, job.Args.InvitationID, w.Mailer, w.BaseURL)
}

// RotateKeysArgs is the periodic system job that rotates access-token signing keys.
type RotateKeysArgs struct{}

// Kind implements coditect.Job.
func (RotateKeysArgs) Kind() string { return "identity.rotate_signing_keys" }

// KeyRotator rotates signing keys once the current one is older than age.
type KeyRotator interface {
	RotateIfOlder(ctx context.Context, age time.Duration) error
}

// RotateKeysWorker runs RotateKeysArgs.
type RotateKeysWorker struct {
	river.WorkerDefaults[RotateKeysArgs]
	Keys  KeyRotator
	Every time.Duration // the rotation period
	Log   *slog.Logger
}

// Work implements river.Worker.
func (w *RotateKeysWorker) Work(ctx context.Context, _ *river.Job[RotateKeysArgs]) error {
	if err := w.Keys.RotateIfOlder(ctx, w.Every); err != nil {
		return err
	}
	w.Log.InfoContext(ctx, "checked access-token signing key rotation", "period", w.Every.String())
	return nil
}
