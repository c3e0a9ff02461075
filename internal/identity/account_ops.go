package identity

import (
	"context"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/mfa"
)

// Me is the signed-in account with its organizations.
type Me struct {
	Account     account.Account `json:"account"`
	MFAEnabled  bool            `json:"mfa_enabled"`
	Memberships []MeMembership  `json:"memberships"`
}

// MeMembership is one organization the account belongs to, with its role.
type MeMembership struct {
	Organization OrgRef        `json:"organization"`
	Role         coditect.Role `json:"role"`
}

// OrgRef is the short form of an organization.
type OrgRef struct {
	ID   coditect.TenantID `json:"id"`
	Slug string            `json:"slug"`
	Name string            `json:"name"`
}

// OrgReader reads the context tenant's organization.
type OrgReader interface {
	OrganizationGet(ctx context.Context) (account.Organization, error)
}

func requireAccount(a coditect.Actor) error {
	if a.Kind != coditect.ActorAccount || a.AccountID.IsZero() {
		return coditect.Errorf(coditect.CodeUnauthorized, "sign in as a person to do this")
	}
	return nil
}

// Me returns the actor's account and organizations. Each organization is read in its
// own tenant scope: the list is bounded by the account's memberships, never a scan.
func (s *Service) Me(ctx context.Context, a coditect.Actor, orgs OrgReader) (Me, error) {
	if err := requireAccount(a); err != nil {
		return Me{}, err
	}
	acc, err := s.store.AccountGet(ctx, a.AccountID)
	if err != nil {
		return Me{}, err
	}
	st, err := s.store.MFAGet(ctx, a.AccountID)
	if err != nil {
		return Me{}, err
	}
	ms, err := s.store.AccountMemberships(ctx, a.AccountID)
	if err != nil {
		return Me{}, err
	}
	out := Me{Account: acc, MFAEnabled: st.EnabledAt != nil, Memberships: []MeMembership{}}
	for _, m := range ms {
		tctx := coditect.WithActor(ctx, coditect.Actor{Kind: a.Kind, AccountID: a.AccountID, SessionID: a.SessionID, Tenant: m.Tenant, Role: m.Role})
		org, err := orgs.OrganizationGet(tctx)
		if coditect.IsNotFound(err) {
			continue // being deleted
		}
		if err != nil {
			return Me{}, err
		}
		out.Memberships = append(out.Memberships, MeMembership{Organization: OrgRef{ID: org.ID, Slug: org.Slug, Name: org.Name}, Role: m.Role})
	}
	return out, nil
}

// SessionView is a session as listed to its owner.
type SessionView struct {
	Session
	Current bool `json:"current"`
}

// Sessions lists the actor's live sessions.
func (s *Service) Sessions(ctx context.Context, a coditect.Actor) ([]SessionView, error) {
	if err := requireAccount(a); err != nil {
		return nil, err
	}
	list, err := s.store.SessionList(ctx, a.AccountID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(list))
	for _, se := range list {
		out = append(out, SessionView{Session: se, Current: se.ID == a.SessionID})
	}
	return out, nil
}

// RevokeSession ends one of the actor's sessions; another account's is not found.
func (s *Service) RevokeSession(ctx context.Context, a coditect.Actor, id coditect.SessionID) error {
	if err := requireAccount(a); err != nil {
		return err
	}
	return s.store.SessionRevoke(ctx, a.AccountID, id)
}

// MFAEnrollment is what starting TOTP enrolment returns.
type MFAEnrollment struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
	QRPNG      []byte `json:"qr_png,omitempty"`
}

// MFAStart begins TOTP enrolment: a new secret, kept sealed as pending until a code
// from it is verified.
func (s *Service) MFAStart(ctx context.Context, a coditect.Actor) (MFAEnrollment, error) {
	if err := requireAccount(a); err != nil {
		return MFAEnrollment{}, err
	}
	st, err := s.store.MFAGet(ctx, a.AccountID)
	if err != nil {
		return MFAEnrollment{}, err
	}
	if st.EnabledAt != nil {
		return MFAEnrollment{}, &coditect.Error{Code: CodeMFAAlreadyEnabled, Kind: coditect.CodeConflict, Message: "two-factor authentication is already on; turn it off first"}
	}
	acc, err := s.store.AccountGet(ctx, a.AccountID)
	if err != nil {
		return MFAEnrollment{}, err
	}
	e, err := mfa.NewEnrollment(s.cfg.MFAIssuer, acc.Email)
	if err != nil {
		return MFAEnrollment{}, err
	}
	sealed, err := mfa.SealSecret(e.Secret, s.cfg.AppSecret)
	if err != nil {
		return MFAEnrollment{}, err
	}
	if err := s.store.MFASetPending(ctx, a.AccountID, sealed); err != nil {
		return MFAEnrollment{}, err
	}
	return MFAEnrollment{Secret: e.Secret, OTPAuthURL: e.URL, QRPNG: e.QRPNG}, nil
}

// MFAConfirm verifies the first code of a pending enrolment, turns MFA on and returns
// the recovery codes (shown once).
func (s *Service) MFAConfirm(ctx context.Context, a coditect.Actor, code string) ([]string, error) {
	if err := requireAccount(a); err != nil {
		return nil, err
	}
	st, err := s.store.MFAGet(ctx, a.AccountID)
	if err != nil {
		return nil, err
	}
	if st.EnabledAt != nil {
		return nil, &coditect.Error{Code: CodeMFAAlreadyEnabled, Kind: coditect.CodeConflict, Message: "two-factor authentication is already on"}
	}
	if len(st.PendingSecret) == 0 {
		return nil, &coditect.Error{Code: CodeMFANotEnabled, Kind: coditect.CodeConflict, Message: "start enrolment first (POST /v1/me/mfa/totp)"}
	}
	secret, err := mfa.OpenSecret(st.PendingSecret, s.cfg.AppSecret)
	if err != nil {
		return nil, err
	}
	step, err := mfa.Verify(secret, code, st.LastStep, s.now())
	if err != nil {
		return nil, err
	}
	plain, hashes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	if err := s.store.MFAEnable(ctx, a.AccountID, step, hashes); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "mfa enabled", "event", "auth.mfa_enabled", "account_id", a.AccountID.String())
	s.recordEvent(ctx, a.AccountID, "mfa.enabled")
	return plain, nil
}

// MFADisable turns TOTP off. It asks for a current code (or a recovery code), so a
// stolen session alone cannot remove the second factor.
func (s *Service) MFADisable(ctx context.Context, a coditect.Actor, code string) error {
	if err := requireAccount(a); err != nil {
		return err
	}
	st, err := s.store.MFAGet(ctx, a.AccountID)
	if err != nil {
		return err
	}
	if st.EnabledAt == nil {
		return &coditect.Error{Code: CodeMFANotEnabled, Kind: coditect.CodeConflict, Message: "two-factor authentication is not on"}
	}
	if err := s.checkSecondFactor(ctx, a.AccountID, code); err != nil {
		return err
	}
	if err := s.store.MFADisable(ctx, a.AccountID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "mfa disabled", "event", "auth.mfa_disabled", "account_id", a.AccountID.String())
	s.recordEvent(ctx, a.AccountID, "mfa.disabled")
	return nil
}

// RequestEmailVerification enqueues a new verification email for the actor.
func (s *Service) RequestEmailVerification(ctx context.Context, a coditect.Actor) error {
	if err := requireAccount(a); err != nil {
		return err
	}
	return s.jobs.EnqueueSystem(ctx, VerifyEmailArgs{AccountID: a.AccountID})
}

// ConfirmEmail consumes a verification token and marks the address verified.
func (s *Service) ConfirmEmail(ctx context.Context, tok string) error {
	t, err := s.store.EmailTokenConsume(ctx, hashToken(strings.TrimSpace(tok)), PurposeVerifyEmail)
	if err != nil {
		if coditect.IsNotFound(err) {
			return &coditect.Error{Code: CodeTokenInvalid, Kind: coditect.CodeNotFound, Message: "this link is invalid, used or expired"}
		}
		return err
	}
	if err := s.store.AccountMarkEmailVerified(ctx, t.AccountID, t.Email); err != nil {
		return err
	}
	s.recordEvent(ctx, t.AccountID, "email.verified")
	return nil
}

// RequestPasswordReset enqueues a reset email when the address has an account. It
// answers the same either way, so it cannot be used to discover accounts.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email, ok := NormalizeEmail(email)
	if !ok {
		return coditect.Invalid(coditect.FieldError{Field: "email", Message: "must be an email address"})
	}
	acc, err := s.store.AccountByEmail(ctx, email)
	if coditect.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.jobs.EnqueueSystem(ctx, PasswordResetArgs{AccountID: acc.ID})
}

// ResetPassword consumes a reset token, sets the new password and revokes every
// session of the account.
func (s *Service) ResetPassword(ctx context.Context, tok, password string) error {
	if msg := s.policy.Check(password, ""); msg != "" {
		return coditect.Invalid(coditect.FieldError{Field: "password", Message: msg})
	}
	t, err := s.store.EmailTokenConsume(ctx, hashToken(strings.TrimSpace(tok)), PurposePasswordReset)
	if err != nil {
		if coditect.IsNotFound(err) {
			return &coditect.Error{Code: CodeTokenInvalid, Kind: coditect.CodeNotFound, Message: "this link is invalid, used or expired"}
		}
		return err
	}
	hash, err := HashPassword(password, s.cfg.Argon2)
	if err != nil {
		return err
	}
	if err := s.store.AccountSetPassword(ctx, t.AccountID, hash); err != nil {
		return err
	}
	// Whoever had the old password may have approved applications too: end those grants
	// along with the sessions.
	if s.grants != nil {
		if _, err := s.grants.RevokeAccountGrants(ctx, t.AccountID); err != nil {
			return err
		}
	}
	s.log.InfoContext(ctx, "password reset", "event", "auth.password_reset", "account_id", t.AccountID.String())
	s.recordEvent(ctx, t.AccountID, "password.reset")
	return nil
}

// Mail template kinds and their data, as the mail renderer names them.
const (
	mailWelcome       = "welcome"
	mailVerifyEmail   = "verify_email"
	mailPasswordReset = "password_reset"
)

// SendWelcome runs the welcome job: the verification email, then the welcome email.
func (s *Service) SendWelcome(ctx context.Context, id coditect.AccountID, orgs OrgReader) error {
	acc, err := s.store.AccountGet(ctx, id)
	if err != nil {
		return err
	}
	org, err := orgs.OrganizationGet(ctx)
	if err != nil {
		return err
	}
	// The verification email goes first: if the job is retried after it, a second
	// verification link is harmless, a second welcome would be noise.
	if err := s.SendVerification(ctx, id); err != nil {
		return err
	}
	return s.mailer.Mail(ctx, mailWelcome, acc.Email, map[string]any{
		"Name": acc.Name, "OrganizationName": org.Name, "LoginURL": s.cfg.BaseURL + "/login",
	})
}

// SendVerification runs the verification job.
func (s *Service) SendVerification(ctx context.Context, id coditect.AccountID) error {
	acc, err := s.store.AccountGet(ctx, id)
	if err != nil {
		return err
	}
	if acc.EmailVerifiedAt != nil {
		return nil
	}
	link, err := s.mintLink(ctx, acc, PurposeVerifyEmail, "/verify-email", s.cfg.VerifyTTL)
	if err != nil {
		return err
	}
	return s.mailer.Mail(ctx, mailVerifyEmail, acc.Email, map[string]any{"Name": acc.Name, "VerifyURL": link, "ExpiresIn": s.cfg.VerifyTTL})
}

// SendPasswordReset runs the reset job.
func (s *Service) SendPasswordReset(ctx context.Context, id coditect.AccountID) error {
	acc, err := s.store.AccountGet(ctx, id)
	if err != nil {
		return err
	}
	link, err := s.mintLink(ctx, acc, PurposePasswordReset, "/reset-password", s.cfg.ResetTTL)
	if err != nil {
		return err
	}
	return s.mailer.Mail(ctx, mailPasswordReset, acc.Email, map[string]any{"Name": acc.Name, "ResetURL": link, "ExpiresIn": s.cfg.ResetTTL})
}

// mintLink stores a single-use token's hash and returns the link that carries it. The
// token exists only in the email.
func (s *Service) mintLink(ctx context.Context, acc account.Account, purpose, path string, ttl time.Duration) (string, error) {
	tok, hash := randomToken(strings.ReplaceAll(purpose, "_", ""))
	err := s.store.EmailTokenCreate(ctx, EmailToken{Hash: hash, AccountID: acc.ID, Purpose: purpose, Email: acc.Email, ExpiresAt: s.now().Add(ttl)})
	if err != nil {
		return "", err
	}
	return s.cfg.BaseURL + path + "?token=" + tok, nil
}
