package identity

import (
	"context"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// Authenticate checks a person's credentials for the OAuth provider's sign-in form
// (with Account, it implements oauth.Authenticator). It is Login without the session: the same throttling per account and per client IP, the same
// answer in about the same time for an unknown email and a wrong password, and the
// same second-factor check (totpCode is a TOTP code or a recovery code; a missing one
// is auth.mfa_required, a wrong or replayed one auth.mfa_invalid).
//
// The client IP the throttle counts is the request origin in ctx (audit.WithInfo),
// which the HTTP layer puts there for the provider's routes.
func (s *Service) Authenticate(ctx context.Context, email, password, totpCode string) (coditect.AccountID, error) {
	var c Client
	if info, ok := audit.InfoFrom(ctx); ok {
		c = Client{IP: info.IP, UserAgent: info.UserAgent}
	}
	acc, err := s.checkCredentials(ctx, email, password, totpCode, c)
	if err != nil {
		return coditect.AccountID{}, err
	}
	s.log.InfoContext(ctx, "login succeeded", "event", "auth.login_succeeded", "via", "oauth", "account_id", acc.ID.String())
	return acc.ID, nil
}

// Account returns an account's email address and display name, for the OAuth
// provider's ID tokens, userinfo and consent page. An unknown account is not found.
func (s *Service) Account(ctx context.Context, id coditect.AccountID) (email, name string, err error) {
	acc, err := s.store.AccountGet(ctx, id)
	if err != nil {
		return "", "", err
	}
	return acc.Email, acc.Name, nil
}
