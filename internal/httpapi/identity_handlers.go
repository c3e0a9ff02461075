package httpapi

import (
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

// tokensBody is the token part of sign-up, login, refresh and invitation answers.
// CSRFToken is set for browser sessions (session: "cookie").
type tokensBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	CSRFToken    string `json:"csrf_token,omitempty"`
}

func tokensOf(t identity.Tokens) tokensBody {
	return tokensBody{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, ExpiresIn: t.ExpiresIn, CSRFToken: t.CSRFToken}
}

// organizationBody is an organization as the API shows it; Domain is omitted when
// the server does not know its base domain.
type organizationBody struct {
	ID        coditect.TenantID `json:"id"`
	Slug      string            `json:"slug"`
	Name      string            `json:"name"`
	Domain    string            `json:"domain,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func organizationOf(o account.Organization, baseDomain string) organizationBody {
	b := organizationBody{ID: o.ID, Slug: o.Slug, Name: o.Name, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	if baseDomain != "" {
		b.Domain = o.Slug + "." + baseDomain
	}
	return b
}

// wantsCookie reads a request's session field: absent for tokens only, "cookie" to
// also start a browser session.
func wantsCookie(r *http.Request, session string) (bool, error) {
	switch session {
	case "":
		return false, nil
	case "cookie":
		// A cross-site HTML form can post a body that parses as JSON, but only as
		// text/plain or a form encoding. Requiring the JSON media type (which no form
		// can send, and fetch only after a CORS preflight) keeps other sites from
		// signing a browser in to an account of their choosing (login CSRF).
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			return false, coditect.Errorf(coditect.CodeMalformed, `a request for a cookie session must be sent with Content-Type: application/json`)
		}
		return true, nil
	}
	return false, coditect.Invalid(coditect.FieldError{Field: "session", Message: `must be "cookie" or left out`})
}

// startSession answers a new session's tokens, setting the browser cookies first
// when the session has them.
func startSession(w http.ResponseWriter, t identity.Tokens, secure bool) {
	if t.Cookie != "" {
		setSessionCookies(w, t, secure)
	}
}

// setRetryAfter copies a throttling error's wait into Retry-After (whole seconds,
// rounded up), for the 429 that follows.
func setRetryAfter(w http.ResponseWriter, err error) {
	var te *identity.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(te.RetryAfter.Seconds())))))
	}
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

type signupRequest struct {
	Email            string `json:"email"`
	Password         string `json:"password"`
	Name             string `json:"name"`
	OrganizationName string `json:"organization_name"`
	OrganizationSlug string `json:"organization_slug"`
	Session          string `json:"session"`
}

type signupResponse struct {
	Account      account.Account  `json:"account"`
	Organization organizationBody `json:"organization"`
	tokensBody
}

// handleSignup: POST /v1/signup.
func handleSignup(ids IdentityService, accts AccountService, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in signupRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		cookie, err := wantsCookie(r, in.Session)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		res, err := ids.Signup(r.Context(), identity.SignupParams{Email: in.Email, Password: in.Password, Name: in.Name,
			OrganizationName: in.OrganizationName, OrganizationSlug: in.OrganizationSlug, Cookie: cookie}, clientOf(r))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		acc := res.Account
		if acc.CreatedAt.IsZero() {
			// Sign-up returns the account as it was built, not as stored: read it back
			// rather than answer a made-up creation time.
			me, err := ids.Me(r.Context(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: acc.ID, SessionID: res.Tokens.SessionID}, orgReader{accts})
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			acc = me.Account
		}
		org := organizationOf(res.Organization, "")
		org.Domain = res.Domain
		startSession(w, res.Tokens, secure)
		writeJSON(w, http.StatusCreated, signupResponse{Account: acc, Organization: org, tokensBody: tokensOf(res.Tokens)})
	})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTPCode string `json:"totp_code"`
	Session  string `json:"session"`
}

// handleLogin: POST /v1/auth/login.
func handleLogin(ids IdentityService, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in loginRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		cookie, err := wantsCookie(r, in.Session)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		t, err := ids.Login(r.Context(), identity.LoginParams{Email: in.Email, Password: in.Password, TOTPCode: in.TOTPCode, Cookie: cookie}, clientOf(r))
		if err != nil {
			setRetryAfter(w, err)
			writeProblem(w, r, err)
			return
		}
		startSession(w, t, secure)
		writeJSON(w, http.StatusOK, tokensOf(t))
	})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleRefresh: POST /v1/auth/refresh.
func handleRefresh(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in refreshRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		t, err := ids.Refresh(r.Context(), in.RefreshToken)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, tokensOf(t))
	})
}

// handleLogout: POST /v1/auth/logout. It ends the session the request signed in with
// (its access tokens, refresh token and cookie all stop working) and drops the
// browser's cookies.
func handleLogout(ids IdentityService, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorOf(r)
		if err := ids.Logout(r.Context(), a); err != nil {
			writeProblem(w, r, err)
			return
		}
		clearSessionCookies(w, secure)
		noContent(w)
	})
}

// handleMe: GET /v1/me.
func handleMe(ids IdentityService, accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorOf(r)
		me, err := ids.Me(r.Context(), a, orgReader{accts})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, me)
	})
}

// handleSessionList: GET /v1/me/sessions.
func handleSessionList(ids IdentityService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorOf(r)
		list, err := ids.Sessions(r.Context(), a)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		serveSlice(w, r, pg, "sessions", list, func(s identity.SessionView) (time.Time, [16]byte) { return s.CreatedAt, s.ID })
	})
}

// handleSecurityEvents: GET /v1/me/security-events, the account's most recent
// security events (sign-ins, failed sign-ins, second-factor and password changes),
// newest first. It is a bounded recent history, so it has no further pages.
func handleSecurityEvents(ids IdentityService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, _, err := pg.parse(r, "security-events")
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		a, _ := actorOf(r)
		list, err := ids.SecurityEvents(r.Context(), a, limit)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, page[identity.AccountEvent]{Data: list})
	})
}

// handleSessionRevoke: DELETE /v1/me/sessions/{id}. Revoking the current browser
// session also drops its cookies.
func handleSessionRevoke(ids IdentityService, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.SessionID](w, r, "id", "session")
		if !ok {
			return
		}
		a, _ := actorOf(r)
		if err := ids.RevokeSession(r.Context(), a, id); err != nil {
			writeProblem(w, r, err)
			return
		}
		if id == a.SessionID {
			clearSessionCookies(w, secure)
		}
		noContent(w)
	})
}

// handleMFAStart: POST /v1/me/mfa/totp.
func handleMFAStart(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorOf(r)
		e, err := ids.MFAStart(r.Context(), a)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodesBody struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// handleMFAConfirm: POST /v1/me/mfa/totp/verify.
func handleMFAConfirm(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in codeRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		a, _ := actorOf(r)
		codes, err := ids.MFAConfirm(r.Context(), a, in.Code)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, recoveryCodesBody{RecoveryCodes: codes})
	})
}

// handleMFADisable: DELETE /v1/me/mfa/totp with the body {code}.
func handleMFADisable(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in codeRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		a, _ := actorOf(r)
		if err := ids.MFADisable(r.Context(), a, in.Code); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// handleEmailVerifyResend: POST /v1/me/email/verify.
func handleEmailVerifyResend(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorOf(r)
		if err := ids.RequestEmailVerification(r.Context(), a); err != nil {
			writeProblem(w, r, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

type tokenRequest struct {
	Token string `json:"token"`
}

// handleEmailVerify: POST /v1/auth/verify-email.
func handleEmailVerify(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in tokenRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		if err := ids.ConfirmEmail(r.Context(), in.Token); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

type emailRequest struct {
	Email string `json:"email"`
}

// handlePasswordResetRequest: POST /v1/auth/password-reset. It answers 202 whether
// or not the address has an account.
func handlePasswordResetRequest(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in emailRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		if err := ids.RequestPasswordReset(r.Context(), in.Email); err != nil {
			writeProblem(w, r, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

type passwordResetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// handlePasswordReset: POST /v1/auth/password-reset/confirm.
func handlePasswordReset(ids IdentityService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in passwordResetRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		if err := ids.ResetPassword(r.Context(), in.Token, in.Password); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// handleJWKS: GET /.well-known/jwks.json. Resource servers fetch it often and keys
// rotate rarely (old keys keep verifying for a while), so it may be cached briefly.
func handleJWKS(jwks func() ([]byte, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if jwks == nil {
			writeProblem(w, r, coditect.Errorf(coditect.CodeUnavailable, "signing keys are not configured on this server"))
			return
		}
		b, err := jwks()
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	})
}

// pathID parses the path wildcard name as an id. Anything that is not an id names
// nothing, so it answers 404 like an unknown id.
func pathID[T ~[16]byte](w http.ResponseWriter, r *http.Request, name, what string) (T, bool) {
	id, err := coditect.ParseID[T](r.PathValue(name))
	if err != nil {
		writeProblem(w, r, coditect.Errorf(coditect.CodeNotFound, "%s not found", what))
		return id, false
	}
	return id, true
}
