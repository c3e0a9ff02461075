package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/mfa"
)

// The authorization endpoint is three steps on one URL, each carrying the original
// authorization request in its query string:
//
//	GET  /oauth2/auth?…                      fosite validates the request → login form
//	POST /oauth2/auth?… step=login           email + password (+ 2FA code) → consent form
//	POST /oauth2/auth?… step=consent         approve → redirect with code; deny → access_denied
//
// Nothing is stored between the steps. Each form carries a signed token that binds it
// to this browser (a random cookie the token's MAC covers), to this authorization
// request (a hash of the query) and to a deadline; the consent token also carries the
// account that signed in and when. Another site can neither read the cookie nor forge
// the token, so it cannot post either form for the user (CSRF), and a token from one
// authorization request is useless for another. fosite sees only the query, exactly as
// in the first step, so the body cannot alter the authorization request.

const (
	formTTL      = 10 * time.Minute
	maxFormBytes = 64 << 10
	maxEmailLen  = 254
	maxPassLen   = 1024
	maxCodeLen   = 64 // a TOTP code or a recovery code
	cookieName   = "coditect_oauth_browser"
)

// formToken is the signed state of a login or consent form.
type formToken struct {
	Step     string `json:"s"`           // "login" or "consent"
	Started  int64  `json:"r"`           // when the login form was first shown (the ID token's rat)
	Account  string `json:"a,omitempty"` // consent: the account that signed in
	AuthTime int64  `json:"t,omitempty"` // consent: when it signed in
	Expires  int64  `json:"e"`           // unix seconds
	Nonce    string `json:"n"`           // makes every token distinct
}

func (p *Provider) cookieName() string {
	if p.secure {
		return "__Host-" + cookieName
	}
	return cookieName
}

// browser returns this browser's random id from its cookie, setting a new one if it
// has none.
func (p *Provider) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.cookieName()); err == nil && len(c.Value) >= 26 && len(c.Value) <= 64 {
		return c.Value
	}
	v := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(), Value: v, Path: "/", HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode})
	return v
}

func (p *Provider) mac(payload, browser, rawQuery string) []byte {
	m := hmac.New(sha256.New, p.formKey)
	b := sha256.Sum256([]byte(browser))
	q := sha256.Sum256([]byte(rawQuery))
	m.Write([]byte(payload))
	m.Write([]byte{0})
	m.Write(b[:])
	m.Write(q[:])
	return m.Sum(nil)
}

func (p *Provider) signForm(t formToken, browser, rawQuery string) string {
	t.Expires = time.Now().Add(formTTL).Unix()
	t.Nonce = rand.Text()
	b, _ := json.Marshal(t)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(p.mac(payload, browser, rawQuery))
}

var errFormExpired = errors.New("oauth: form token invalid or expired")

func (p *Provider) verifyForm(raw, step, browser, rawQuery string) (formToken, error) {
	payload, sig, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > 2048 {
		return formToken{}, errFormExpired
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || subtle.ConstantTimeCompare(got, p.mac(payload, browser, rawQuery)) != 1 {
		return formToken{}, errFormExpired
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return formToken{}, errFormExpired
	}
	var t formToken
	if err := json.Unmarshal(b, &t); err != nil || t.Step != step || time.Now().Unix() > t.Expires {
		return formToken{}, errFormExpired
	}
	return t, nil
}

// queryOnly returns a copy of r that carries only its query, as a GET, for fosite.
func queryOnly(ctx context.Context, r *http.Request) *http.Request {
	r2 := r.Clone(ctx)
	r2.Method = http.MethodGet
	r2.Body = http.NoBody
	r2.ContentLength = 0
	r2.Header.Del("Content-Type")
	r2.Form, r2.PostForm, r2.MultipartForm = nil, nil, nil
	return r2
}

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := withClientCache(r.Context())
	pageHeaders(w)
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ar, err := p.oauth.NewAuthorizeRequest(ctx, queryOnly(ctx, r))
	if err != nil {
		// fosite redirects only when the client and its redirect_uri are valid.
		p.oauth.WriteAuthorizeError(ctx, w, ar, p.serverError(ctx, "authorize", err))
		return
	}
	if err := precheck(ar); err != nil {
		p.oauth.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	prompts := strings.Fields(ar.GetRequestForm().Get("prompt"))
	if slices.Contains(prompts, "none") {
		// Sign-in is not remembered between authorizations and consent is always asked.
		p.oauth.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired.WithHint("This server always asks the user to sign in and consent."))
		return
	}
	browser := p.browser(w, r)
	if r.Method == http.MethodGet {
		p.renderLogin(w, r, ar, browser, formToken{Step: "login", Started: time.Now().Unix()}, "", http.StatusOK)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	switch r.PostForm.Get("step") {
	case "login":
		p.postLogin(ctx, w, r, ar, browser)
	case "consent":
		p.postConsent(ctx, w, r, ar, browser)
	default:
		http.Error(w, "unknown step", http.StatusBadRequest)
	}
}

// precheck refuses, before the user signs in, what fosite would refuse only when the
// code is issued: a missing or non-S256 PKCE challenge, an OpenID Connect request
// without redirect_uri, a guessable nonce.
func precheck(ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	if !ar.GetResponseTypes().ExactOne("code") {
		return fosite.ErrUnsupportedResponseType.WithHint("Only response_type=code is supported.")
	}
	if form.Get("code_challenge") == "" {
		return fosite.ErrInvalidRequest.WithHint("Clients must use PKCE: send a code_challenge with code_challenge_method=S256.")
	}
	if form.Get("code_challenge_method") != "S256" {
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256.")
	}
	if ar.GetRequestedScopes().Has(ScopeOpenID) && form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")
	}
	if n := form.Get("nonce"); n != "" && len(n) < fosite.MinParameterEntropy {
		return fosite.ErrInsufficientEntropy.WithHintf("The nonce must be at least %d characters.", fosite.MinParameterEntropy)
	}
	return nil
}

func (p *Provider) postLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, browser string) {
	t, err := p.verifyForm(r.PostForm.Get("token"), "login", browser, r.URL.RawQuery)
	if err != nil {
		p.renderLogin(w, r, ar, browser, formToken{Step: "login", Started: time.Now().Unix()},
			"This sign-in form has expired. Please sign in again.", http.StatusBadRequest)
		return
	}
	email, password := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("password")
	code := strings.TrimSpace(r.PostForm.Get("totp_code"))
	if email == "" || password == "" || len(email) > maxEmailLen || len(password) > maxPassLen || len(code) > maxCodeLen {
		p.renderLogin(w, r, ar, browser, t, "Enter your email and password.", http.StatusUnauthorized)
		return
	}
	account, err := p.auth.Authenticate(ctx, email, password, code)
	if err != nil {
		switch {
		case coditect.ErrorCode(err) == mfa.CodeRequired:
			p.renderLogin(w, r, ar, browser, t, "This account uses two-factor authentication. "+
				"Enter the code from your authenticator app (or a recovery code) with your password.", http.StatusUnauthorized)
			return
		case coditect.ErrorCode(err) == mfa.CodeInvalid:
			p.renderLogin(w, r, ar, browser, t, "The authentication code is wrong or was already used. "+
				"Enter a new code from your authenticator app (or an unused recovery code) with your password.", http.StatusUnauthorized)
			return
		}
		switch coditect.ErrorKind(err) {
		case coditect.CodeUnauthorized, coditect.CodeNotFound, coditect.CodeInvalid:
			p.renderLogin(w, r, ar, browser, t, "Wrong email or password.", http.StatusUnauthorized)
		case coditect.CodeRateLimited:
			p.renderLogin(w, r, ar, browser, t, "Too many attempts. Please wait a moment and try again.", http.StatusTooManyRequests)
		default:
			p.log.ErrorContext(ctx, "oauth: authenticate", "err", err)
			p.renderLogin(w, r, ar, browser, t, "Signing in is not possible right now. Please try again later.", http.StatusServiceUnavailable)
		}
		return
	}
	if account.IsZero() {
		p.renderLogin(w, r, ar, browser, t, "Wrong email or password.", http.StatusUnauthorized)
		return
	}
	consent := formToken{Step: "consent", Started: t.Started, Account: account.String(), AuthTime: time.Now().Unix()}
	p.renderConsent(ctx, w, r, ar, browser, consent)
}

func (p *Provider) postConsent(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, browser string) {
	t, err := p.verifyForm(r.PostForm.Get("token"), "consent", browser, r.URL.RawQuery)
	if err != nil {
		p.renderLogin(w, r, ar, browser, formToken{Step: "login", Started: time.Now().Unix()},
			"This consent form has expired. Please sign in again.", http.StatusBadRequest)
		return
	}
	account, err := coditect.ParseID[coditect.AccountID](t.Account)
	if err != nil {
		http.Error(w, "bad consent form", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		p.oauth.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}
	// The user approves everything the client asked for; fosite has already checked
	// that the client may ask for it.
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := newSession()
	sess.Subject = account.String()
	claims := sess.IDTokenClaims()
	claims.Subject = account.String()
	claims.AuthTime = time.Unix(t.AuthTime, 0).UTC()
	claims.RequestedAt = time.Unix(t.Started, 0).UTC()
	if ar.GetGrantedScopes().HasOneOf(ScopeEmail, ScopeProfile) {
		email, name, err := p.auth.Account(ctx, account)
		if err != nil {
			p.log.ErrorContext(ctx, "oauth: account for ID token", "err", err)
			p.oauth.WriteAuthorizeError(ctx, w, ar, fosite.ErrServerError)
			return
		}
		claims.Extra = map[string]any{}
		if ar.GetGrantedScopes().Has(ScopeEmail) {
			claims.Extra["email"] = email
		}
		if ar.GetGrantedScopes().Has(ScopeProfile) {
			claims.Extra["name"] = name
		}
	}
	resp, err := p.oauth.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.oauth.WriteAuthorizeError(ctx, w, ar, p.serverError(ctx, "authorize", err))
		return
	}
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// pageHeaders keeps the login and consent pages out of caches, frames and referrers.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
}

type pageData struct {
	Title   string
	Client  string
	Action  string
	Token   string
	Error   string
	Email   string
	Scopes  []scopeLine
	Host    string
	Account string
}

type scopeLine struct{ Name, Description string }

var scopeDescriptions = map[string]string{
	ScopeOpenID:        "Confirm who you are",
	ScopeProfile:       "See your name",
	ScopeEmail:         "See your email address",
	ScopeOfflineAccess: "Keep access while you are away (refresh tokens)",
}

func clientName(ar fosite.AuthorizeRequester) string {
	if c, ok := ar.GetClient().(*fositeClient); ok {
		return c.c.Name
	}
	return ar.GetClient().GetID()
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, browser string, t formToken, msg string, status int) {
	email := ""
	if r.PostForm != nil {
		email = r.PostForm.Get("email")
		if len(email) > maxEmailLen {
			email = ""
		}
	}
	render(w, status, loginPage, pageData{Title: "Sign in", Client: clientName(ar), Action: formAction(r),
		Token: p.signForm(t, browser, r.URL.RawQuery), Error: msg, Email: email})
}

func (p *Provider) renderConsent(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, browser string, t formToken) {
	var scopes []scopeLine
	for _, s := range ar.GetRequestedScopes() {
		d, ok := scopeDescriptions[s]
		if !ok {
			d = "Use the CODITECT API (" + s + ")"
		}
		scopes = append(scopes, scopeLine{Name: s, Description: d})
	}
	account := ""
	if id, err := coditect.ParseID[coditect.AccountID](t.Account); err == nil {
		if email, _, err := p.auth.Account(ctx, id); err == nil {
			account = email
		}
	}
	host := ""
	if u := ar.GetRedirectURI(); u != nil {
		host = u.Host
	}
	render(w, http.StatusOK, consentPage, pageData{Title: "Authorize " + clientName(ar), Client: clientName(ar), Action: formAction(r),
		Token: p.signForm(t, browser, r.URL.RawQuery), Scopes: scopes, Host: host, Account: account})
}

// formAction posts back to the authorization endpoint with the same query.
func formAction(r *http.Request) string {
	return (&url.URL{Path: PathAuthorize, RawQuery: r.URL.RawQuery}).String()
}

func render(w http.ResponseWriter, status int, t *template.Template, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = t.Execute(w, d)
}

const pageStyle = `<style>
body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password],input[type=text]{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem;margin-right:.5rem}.error{color:#b00020}.muted{color:#666;font-size:.9rem}
</style>`

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} – CODITECT</title>` + pageStyle + `</head><body>
<h1>Sign in to CODITECT</h1>
<p>to continue to <strong>{{.Client}}</strong></p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="step" value="login">
<input type="hidden" name="token" value="{{.Token}}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="{{.Email}}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<label for="totp_code">Authentication code <span class="muted">(only if two-factor authentication is on)</span></label><input id="totp_code" name="totp_code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="64" aria-describedby="totp_help">
<p id="totp_help" class="muted">The 6-digit code from your authenticator app, or a recovery code.</p>
<button type="submit">Sign in</button>
</form>
</body></html>
`))

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} – CODITECT</title>` + pageStyle + `</head><body>
<h1><strong>{{.Client}}</strong> wants to access your CODITECT account</h1>
{{if .Account}}<p class="muted">Signed in as {{.Account}}</p>{{end}}
<p>It asks to:</p>
<ul>{{range .Scopes}}<li>{{.Description}} <span class="muted">({{.Name}})</span></li>{{end}}</ul>
{{if .Host}}<p class="muted">You will be sent back to {{.Host}}.</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="step" value="consent">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>
`))
