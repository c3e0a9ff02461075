package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/mfa"
	"github.com/coditect/coditect/internal/identity/token"
)

// Error codes identity adds to the vocabulary.
const (
	CodeInvalidCredentials coditect.Code = "auth.invalid_credentials"
	CodeRefreshReused      coditect.Code = "auth.refresh_reused"
	CodeThrottled          coditect.Code = "auth.throttled"
	CodeEmailTaken         coditect.Code = "account.email_taken"
	CodeTokenInvalid       coditect.Code = "auth.token_invalid"
	CodeMFAAlreadyEnabled  coditect.Code = "auth.mfa_already_enabled"
	CodeMFANotEnabled      coditect.Code = "auth.mfa_not_enabled"
)

// Throttling: per account (the email tried) and per client IP, failures in a window.
const (
	loginWindow          = 15 * time.Minute
	loginLimitPerAccount = 10
	loginLimitPerIP      = 100
)

// Config holds identity's settings.
type Config struct {
	Argon2     Argon2Params
	SessionTTL time.Duration // lifetime of a refresh token / browser session
	AppSecret  []byte        // ≥ 32 bytes: seals MFA secrets, derives CSRF tokens
	BaseURL    string        // for links in emails
	BaseDomain string        // organizations get {slug}.{BaseDomain}
	MFAIssuer  string        // shown in authenticator apps
	VerifyTTL  time.Duration // email verification link lifetime
	ResetTTL   time.Duration // password reset link lifetime
}

// Mailer sends one templated email (welcome, verify_email, password_reset…).
type Mailer interface {
	Mail(ctx context.Context, kind, to string, data any) error
}

// GrantRevoker ends every grant an account gave to OAuth applications.
type GrantRevoker interface {
	RevokeAccountGrants(ctx context.Context, id coditect.AccountID) (int64, error)
}

// Jobs enqueues a system job outside any transaction (nothing else changes with it).
type Jobs interface {
	EnqueueSystem(ctx context.Context, job coditect.Job) error
}

// Service is sign-up, sign-in and everything about an account's credentials.
type Service struct {
	cfg       Config
	store     Store
	accounts  account.Store
	tokens    *token.Issuer
	throttle  Throttle
	mailer    Mailer
	jobs      Jobs
	grants    GrantRevoker
	policy    *PasswordPolicy
	log       *slog.Logger
	now       func() time.Time
	dummyHash string
}

// Deps are the Service's collaborators.
type Deps struct {
	Store    Store
	Accounts account.Store
	Tokens   *token.Issuer
	Throttle Throttle
	Mailer   Mailer
	Jobs     Jobs
	Grants   GrantRevoker // optional: without it a reset leaves OAuth grants alone
	Log      *slog.Logger
	Now      func() time.Time
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config, d Deps) (*Service, error) {
	if len(cfg.AppSecret) < 32 {
		return nil, errors.New("identity: the app secret must be at least 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.VerifyTTL <= 0 {
		cfg.VerifyTTL = 48 * time.Hour
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = time.Hour
	}
	if cfg.MFAIssuer == "" {
		cfg.MFAIssuer = "CODITECT"
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	// Verifying against this when the email is unknown makes both answers take as long.
	dummy, err := HashPassword("not a real password, only for timing", cfg.Argon2)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: d.Store, accounts: d.Accounts, tokens: d.Tokens, throttle: d.Throttle, mailer: d.Mailer,
		jobs: d.Jobs, grants: d.Grants, policy: NewPasswordPolicy(), log: d.Log, now: d.Now, dummyHash: dummy}, nil
}

// Client describes where a request came from, for sessions and audit.
type Client struct {
	IP        *netip.Addr
	UserAgent string
}

// Tokens is what sign-up, login and refresh return.
type Tokens struct {
	AccessToken  string             `json:"access_token"`
	RefreshToken string             `json:"refresh_token"`
	TokenType    string             `json:"token_type"`
	ExpiresIn    int                `json:"expires_in"`
	SessionID    coditect.SessionID `json:"-"`
	AccountID    coditect.AccountID `json:"-"`
	// Cookie is the browser session credential; set only when asked for.
	Cookie    string    `json:"-"`
	CSRFToken string    `json:"-"`
	ExpiresAt time.Time `json:"-"`
}

// NormalizeEmail lowercases and trims an address; it reports false for something that
// is not an email address.
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if len(s) < 3 || len(s) > 254 || at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>()[],;:\\\"") ||
		!strings.Contains(s[at+1:], ".") && s[at+1:] != "localhost" {
		return "", false
	}
	return s, true
}

// SignupParams is POST /v1/signup's body.
type SignupParams struct {
	Email            string
	Password         string
	Name             string
	OrganizationName string
	OrganizationSlug string // derived from the name when empty
	Cookie           bool   // also start a browser session
}

// SignupResult is a new account with its organization and a first session.
type SignupResult struct {
	Account      account.Account
	Organization account.Organization
	Domain       string
	Tokens       Tokens
}

// WelcomeArgs is the job that welcomes a new account and sends its verification link.
// It is enqueued in the sign-up transaction; the link's token is minted when it runs, so
// no secret is stored in the job.
type WelcomeArgs struct {
	coditect.TenantJob
	AccountID coditect.AccountID `json:"account_id"`
}

// Kind implements coditect.Job.
func (WelcomeArgs) Kind() string { return "identity.welcome" }

// VerifyEmailArgs re-sends the verification link (a system job).
type VerifyEmailArgs struct {
	AccountID coditect.AccountID `json:"account_id"`
}

// Kind implements coditect.Job.
func (VerifyEmailArgs) Kind() string { return "identity.verify_email" }

// PasswordResetArgs sends a password reset link (a system job).
type PasswordResetArgs struct {
	AccountID coditect.AccountID `json:"account_id"`
}

// Kind implements coditect.Job.
func (PasswordResetArgs) Kind() string { return "identity.password_reset" }

// Signup creates the account, its organization, the owner membership and the domain,
// writes the audit row and enqueues the welcome email in one transaction, then opens a
// first session.
func (s *Service) Signup(ctx context.Context, p SignupParams, c Client) (SignupResult, error) {
	var fields []coditect.FieldError
	email, ok := NormalizeEmail(p.Email)
	if !ok {
		fields = append(fields, coditect.FieldError{Field: "email", Message: "must be an email address"})
	}
	if msg := s.policy.Check(p.Password, email); msg != "" {
		fields = append(fields, coditect.FieldError{Field: "password", Message: msg})
	}
	slug := strings.TrimSpace(p.OrganizationSlug)
	if slug == "" {
		slug = account.SlugFromName(p.OrganizationName)
	}
	// Report every bad field at once (onboarding checks these again, for other callers).
	if n := strings.TrimSpace(p.Name); n == "" || len(n) > 200 {
		fields = append(fields, coditect.FieldError{Field: "name", Message: "must be 1 to 200 characters"})
	}
	if n := strings.TrimSpace(p.OrganizationName); n == "" || len(n) > 200 {
		fields = append(fields, coditect.FieldError{Field: "organization_name", Message: "must be 1 to 200 characters"})
	}
	if !account.ValidSlug(slug) {
		fields = append(fields, coditect.FieldError{Field: "organization_slug",
			Message: "must be 3 to 40 lowercase letters, digits or inner hyphens, and not reserved (derived from the name when omitted)"})
	}
	if len(fields) > 0 {
		return SignupResult{}, coditect.Invalid(fields...)
	}
	hash, err := HashPassword(p.Password, s.cfg.Argon2)
	if err != nil {
		return SignupResult{}, err
	}
	acc, org, err := account.Onboard(ctx, s.accounts, account.OnboardParams{
		Email: email, Name: strings.TrimSpace(p.Name), PasswordHash: hash, OrgName: strings.TrimSpace(p.OrganizationName),
		Slug: slug, BaseDomain: s.cfg.BaseDomain, Welcome: func(a account.Account) coditect.TenantBoundJob {
			return &WelcomeArgs{AccountID: a.ID}
		},
	})
	if err != nil {
		return SignupResult{}, err
	}
	tokens, err := s.openSession(ctx, acc.ID, c, p.Cookie)
	if err != nil {
		return SignupResult{}, err
	}
	s.log.InfoContext(ctx, "account signed up", "account_id", acc.ID.String(), "tenant_id", org.ID.String())
	return SignupResult{Account: acc, Organization: org, Domain: org.Slug + "." + s.cfg.BaseDomain, Tokens: tokens}, nil
}

// LoginParams is POST /v1/auth/login's body.
type LoginParams struct {
	Email    string
	Password string
	TOTPCode string // or a recovery code
	Cookie   bool
}

// Login checks credentials (and the second factor when enabled) and opens a session.
// Unknown email and wrong password get the same answer, in about the same time.
// Failures are throttled per account and per client IP.
func (s *Service) Login(ctx context.Context, p LoginParams, c Client) (Tokens, error) {
	acc, err := s.checkCredentials(ctx, p.Email, p.Password, p.TOTPCode, c)
	if err != nil {
		return Tokens{}, err
	}
	tokens, err := s.openSession(ctx, acc.ID, c, p.Cookie)
	if err != nil {
		return Tokens{}, err
	}
	s.log.InfoContext(ctx, "login succeeded", "event", "auth.login_succeeded", "account_id", acc.ID.String(), "session_id", tokens.SessionID.String())
	return tokens, nil
}

// checkCredentials is the one credential check of every sign-in (Login, and the OAuth
// provider's login form through Authenticate): throttling per account and per client
// IP, the same answer in about the same time for an unknown email and a wrong
// password, then the second factor when the account has it on.
func (s *Service) checkCredentials(ctx context.Context, rawEmail, password, totpCode string, c Client) (account.Account, error) {
	email, _ := NormalizeEmail(rawEmail)
	acctKey := "login:acct:" + email
	ipKey := "login:ip:unknown"
	if c.IP != nil {
		ipKey = "login:ip:" + c.IP.String()
	}
	for _, k := range []struct {
		key   string
		limit int
	}{{acctKey, loginLimitPerAccount}, {ipKey, loginLimitPerIP}} {
		wait, err := s.throttle.Blocked(ctx, k.key, k.limit)
		if err != nil {
			s.log.WarnContext(ctx, "login throttle unavailable", "error", err.Error())
		} else if wait > 0 {
			return account.Account{}, throttled(wait)
		}
	}
	fail := func(reason string, acc *account.Account) error {
		_ = s.throttle.Fail(ctx, acctKey, loginWindow)
		_ = s.throttle.Fail(ctx, ipKey, loginWindow)
		attrs := []any{"event", "auth.login_failed", "reason", reason}
		if acc != nil {
			attrs = append(attrs, "account_id", acc.ID.String())
		}
		if c.IP != nil {
			attrs = append(attrs, "ip", c.IP.String())
		}
		s.log.WarnContext(ctx, "login failed", attrs...)
		if acc != nil {
			s.recordEvent(ctx, acc.ID, "login.failed")
		}
		return invalidCredentials()
	}

	acc, err := s.store.AccountByEmail(ctx, email)
	if err != nil && !coditect.IsNotFound(err) {
		return account.Account{}, err
	}
	if err != nil || email == "" {
		_, _ = VerifyPassword(password, s.dummyHash)
		return account.Account{}, fail("unknown_email", nil)
	}
	if ok, err := VerifyPassword(password, acc.PasswordHash); err != nil || !ok {
		return account.Account{}, fail("wrong_password", &acc)
	}
	if err := s.checkSecondFactor(ctx, acc.ID, totpCode); err != nil {
		if coditect.ErrorCode(err) == mfa.CodeRequired {
			return account.Account{}, err // not a failure: the client asks for the code next
		}
		if coditect.ErrorCode(err) == mfa.CodeInvalid {
			_ = s.throttle.Fail(ctx, acctKey, loginWindow)
			_ = s.throttle.Fail(ctx, ipKey, loginWindow)
			s.log.WarnContext(ctx, "login failed", "event", "auth.login_failed", "reason", "mfa_invalid", "account_id", acc.ID.String())
			s.recordEvent(ctx, acc.ID, "login.failed_second_factor")
		}
		return account.Account{}, err
	}
	_ = s.throttle.Reset(ctx, acctKey)
	s.recordEvent(ctx, acc.ID, "login.succeeded")
	return acc, nil
}

// recordEvent appends to the account's security trail (who signed in, from where). A
// failure to record is logged, not fatal: it must not lock people out.
func (s *Service) recordEvent(ctx context.Context, id coditect.AccountID, event string) {
	e := AccountEvent{ID: coditect.NewID[coditect.AccountEventID](), AccountID: id, Event: event}
	if info, ok := audit.InfoFrom(ctx); ok {
		e.IP, e.UserAgent = info.IP, info.UserAgent
	}
	if err := s.store.AccountEventAdd(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "record account event", "event", event, "account_id", id.String(), "error", err.Error())
	}
}

// SecurityEvents returns the actor's recent security events, newest first.
func (s *Service) SecurityEvents(ctx context.Context, a coditect.Actor, limit int) ([]AccountEvent, error) {
	if err := requireAccount(a); err != nil {
		return nil, err
	}
	out, err := s.store.AccountEvents(ctx, a.AccountID, limit)
	if out == nil {
		out = []AccountEvent{}
	}
	return out, err
}

// checkSecondFactor requires a valid, unused TOTP code or recovery code when the
// account has MFA enabled.
func (s *Service) checkSecondFactor(ctx context.Context, id coditect.AccountID, code string) error {
	st, err := s.store.MFAGet(ctx, id)
	if err != nil {
		return err
	}
	if st.EnabledAt == nil {
		return nil
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return mfa.Required()
	}
	if len(strings.ReplaceAll(code, " ", "")) == mfa.Digits {
		secret, err := mfa.OpenSecret(st.Secret, s.cfg.AppSecret)
		if err != nil {
			return err
		}
		step, err := mfa.Verify(secret, code, st.LastStep, s.now())
		if err != nil {
			return err
		}
		// The conditional update makes two logins racing with one code fail one of them.
		ok, err := s.store.MFAUseStep(ctx, id, step)
		if err != nil {
			return err
		}
		if !ok {
			return &coditect.Error{Code: mfa.CodeInvalid, Kind: coditect.CodeUnauthorized, Message: "the code was already used"}
		}
		return nil
	}
	hashes, err := s.store.RecoveryCodeHashes(ctx, id)
	if err != nil {
		return err
	}
	i, ok := mfa.MatchRecoveryCode(code, hashes)
	if !ok {
		return &coditect.Error{Code: mfa.CodeInvalid, Kind: coditect.CodeUnauthorized, Message: "invalid authentication code"}
	}
	used, err := s.store.RecoveryCodeUse(ctx, id, hashes[i])
	if err != nil {
		return err
	}
	if !used {
		return &coditect.Error{Code: mfa.CodeInvalid, Kind: coditect.CodeUnauthorized, Message: "the recovery code was already used"}
	}
	return nil
}

// openSession stores a new session and issues its tokens.
func (s *Service) openSession(ctx context.Context, id coditect.AccountID, c Client, cookie bool) (Tokens, error) {
	sid := coditect.NewID[coditect.SessionID]()
	refresh := newCredential("rt", id, sid)
	sess := Session{ID: sid, AccountID: id, RefreshHash: refresh.hash(), UserAgent: truncate(c.UserAgent, 512), IP: c.IP,
		ExpiresAt: s.now().Add(s.cfg.SessionTTL)}
	var ck credential
	if cookie {
		ck = newCredential("cs", id, sid)
		sess.CookieHash = ck.hash()
	}
	if err := s.store.SessionCreate(ctx, sess); err != nil {
		return Tokens{}, err
	}
	t, err := s.issue(id, sid, refresh.String())
	if err != nil {
		return Tokens{}, err
	}
	t.ExpiresAt = sess.ExpiresAt
	if cookie {
		t.Cookie, t.CSRFToken = ck.String(), s.CSRFToken(sid)
	}
	return t, nil
}

func (s *Service) issue(id coditect.AccountID, sid coditect.SessionID, refresh string) (Tokens, error) {
	at, _, err := s.tokens.Issue(id, sid)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(s.tokens.TTL().Seconds()),
		SessionID: sid, AccountID: id}, nil
}

// Refresh exchanges a refresh token for a new pair. A refresh token works once: using
// an already-rotated one revokes its whole session (the token family).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	cred, ok := parseCredential("rt", strings.TrimSpace(refreshToken))
	if !ok {
		return Tokens{}, invalidToken("invalid refresh token")
	}
	next := newCredential("rt", cred.account, cred.session)
	rotated, err := s.store.SessionRotate(ctx, cred.account, cred.session, cred.hash(), next.hash())
	if err != nil {
		return Tokens{}, err
	}
	if !rotated {
		// A live session whose current token is not this one: a stolen or replayed
		// refresh token. Revoke the family so neither party keeps access.
		if _, err := s.store.SessionGet(ctx, cred.account, cred.session); err == nil {
			if err := s.store.SessionRevoke(ctx, cred.account, cred.session); err != nil {
				return Tokens{}, err
			}
			s.log.WarnContext(ctx, "refresh token reused; session revoked", "event", "auth.refresh_reused",
				"account_id", cred.account.String(), "session_id", cred.session.String())
			s.recordEvent(ctx, cred.account, "session.refresh_reused")
			return Tokens{}, &coditect.Error{Code: CodeRefreshReused, Kind: coditect.CodeUnauthorized,
				Message: "this refresh token was already used; the session has been revoked"}
		}
		return Tokens{}, invalidToken("invalid refresh token")
	}
	return s.issue(cred.account, cred.session, next.String())
}

// Logout revokes the actor's session (and with it its refresh-token family).
func (s *Service) Logout(ctx context.Context, a coditect.Actor) error {
	if a.Kind != coditect.ActorAccount || a.SessionID.IsZero() {
		return coditect.Errorf(coditect.CodeUnauthorized, "not signed in with a session")
	}
	err := s.store.SessionRevoke(ctx, a.AccountID, a.SessionID)
	if coditect.IsNotFound(err) {
		return nil // already gone: logging out twice is fine
	}
	return err
}

// AuthenticateAccessToken verifies a bearer access token and that its session is
// still live, and returns the account actor (no tenant yet).
func (s *Service) AuthenticateAccessToken(ctx context.Context, raw string) (coditect.Actor, error) {
	claims, err := s.tokens.Verify(raw)
	if err != nil {
		return coditect.Actor{}, err
	}
	if !claims.SessionID.IsZero() {
		if _, err := s.store.SessionGet(ctx, claims.Subject, claims.SessionID); err != nil {
			if coditect.IsNotFound(err) {
				return coditect.Actor{}, invalidToken("the session of this token has ended")
			}
			return coditect.Actor{}, err
		}
	}
	return coditect.Actor{Kind: coditect.ActorAccount, AccountID: claims.Subject, SessionID: claims.SessionID}, nil
}

// AuthenticateCookie checks a browser session cookie and returns the actor.
func (s *Service) AuthenticateCookie(ctx context.Context, raw string) (coditect.Actor, error) {
	cred, ok := parseCredential("cs", raw)
	if !ok {
		return coditect.Actor{}, invalidToken("invalid session cookie")
	}
	sess, err := s.store.SessionGet(ctx, cred.account, cred.session)
	if err != nil {
		if coditect.IsNotFound(err) {
			return coditect.Actor{}, invalidToken("the session has ended")
		}
		return coditect.Actor{}, err
	}
	if len(sess.CookieHash) == 0 || !hmac.Equal(sess.CookieHash, cred.hash()) {
		return coditect.Actor{}, invalidToken("invalid session cookie")
	}
	return coditect.Actor{Kind: coditect.ActorAccount, AccountID: cred.account, SessionID: cred.session}, nil
}

// CSRFToken is the token a browser session must echo in X-CSRF-Token on unsafe
// requests. It is derived from the session id with the app secret, so it needs no
// storage and dies with the session.
func (s *Service) CSRFToken(sid coditect.SessionID) string {
	m := hmac.New(sha256.New, s.cfg.AppSecret)
	m.Write([]byte("csrf\x00"))
	m.Write(sid[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether got is the session's CSRF token.
func (s *Service) CheckCSRF(sid coditect.SessionID, got string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(s.CSRFToken(sid)))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func invalidCredentials() error {
	return &coditect.Error{Code: CodeInvalidCredentials, Kind: coditect.CodeUnauthorized, Message: "the email or password is wrong"}
}

func invalidToken(msg string) error {
	return &coditect.Error{Code: CodeTokenInvalid, Kind: coditect.CodeUnauthorized, Message: msg}
}

// ThrottledError carries how long the client must wait.
type ThrottledError struct{ RetryAfter time.Duration }

func throttled(wait time.Duration) error {
	return &coditect.Error{Code: CodeThrottled, Kind: coditect.CodeRateLimited, Message: "too many failed attempts; try again later",
		Err: &ThrottledError{RetryAfter: wait}}
}

// Error implements error.
func (t *ThrottledError) Error() string { return "retry after " + t.RetryAfter.String() }
