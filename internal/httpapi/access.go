package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/ratelimit"
)

// The browser session's cookies and header. The session cookie is HttpOnly; the CSRF
// cookie is readable by the web app, which echoes it in the header on unsafe requests
// (a cross-site page can make the browser send cookies, but cannot read them).
const (
	cookieSession = "coditect_session"
	cookieCSRF    = "coditect_csrf"
	headerCSRF    = "X-CSRF-Token"
)

// Codes the access layer adds. Their kinds decide the status as usual.
const (
	codeCSRFFailed     coditect.Code = "auth.csrf_failed"
	codePersonRequired coditect.Code = "auth.person_required"
)

// authLevel is what a route demands of its caller.
type authLevel int

const (
	// authPublic reads no credentials (sign-up, login, OAuth endpoints…).
	authPublic authLevel = iota
	// authMaybePerson uses credentials when sent (they must then be valid and a
	// person's) and otherwise lets the request through without an actor.
	authMaybePerson
	// authSignedIn needs an account, an API key or an OAuth client.
	authSignedIn
	// authPerson needs an account: API keys and OAuth clients are refused with 403.
	authPerson
	// authMember needs an account that is a member of the path's {org}, or an API
	// key or OAuth client of that organization; anything else about {org} is 404.
	authMember
)

// access is the one place that reads credentials: it authenticates requests and
// gates routes. routes.go wraps each handler with one of its methods.
type access struct {
	identity     IdentityService
	accounts     AccountService
	oauthTokens  OAuthTokenVerifier // nil: OAuth access tokens are not accepted
	cookieSecure bool
	idem         *idempotency // Idempotency-Key on POSTs in an organization; nil answers them 503
	meter        UsageMeter   // counts API calls per organization; nil counts nothing
	limiter      ratelimit.Limiter
	rates        RateLimits
	responses    ResponseCache // nil: nothing is cached
}

// gated is a handler behind its access check. router.handle recognizes it to
// document the route's security requirement and its 401/403/404 answers, so the
// document cannot disagree with what is enforced.
type gated struct {
	level authLevel
	a     *access
	next  http.Handler
	cache bool // a GET whose 200 answers the response cache may keep (inOrgCached)
	// unlimited: no per-IP budget (webhooks, which authenticate by their own signature
	// and come from a sender's few addresses in bursts).
	unlimited bool
}

// public marks a route that needs no credentials. It still gets the audit request
// information and the no-store cache policy of every API answer.
func (a *access) public(h http.Handler) http.Handler { return gated{level: authPublic, a: a, next: h} }

// webhook is public for a route that checks its own signature (a provider's webhook):
// no per-IP rate limit, since a provider sends every customer's events from a handful
// of addresses, and a 429 would only delay them.
func (a *access) webhook(h http.Handler) http.Handler {
	return gated{level: authPublic, a: a, next: h, unlimited: true}
}

// maybePerson is for routes a visitor may call with or without signing in.
func (a *access) maybePerson(h http.Handler) http.Handler {
	return gated{level: authMaybePerson, a: a, next: h}
}

// signedIn needs any credentials: an access token, a session cookie or an API key.
func (a *access) signedIn(h http.Handler) http.Handler {
	return gated{level: authSignedIn, a: a, next: h}
}

// person needs a signed-in account (the /v1/me… routes).
func (a *access) person(h http.Handler) http.Handler { return gated{level: authPerson, a: a, next: h} }

// inOrg needs credentials good for the path's {org}; the handler's context carries the
// actor with that organization as its tenant and the caller's role in it.
func (a *access) inOrg(h http.Handler) http.Handler { return gated{level: authMember, a: a, next: h} }

// inOrgCached is inOrg for a GET whose answer depends only on the tenant, the caller's
// role and the request's path and query: its 200 answers go through the response
// cache (see serveCached).
func (a *access) inOrgCached(h http.Handler) http.Handler {
	return gated{level: authMember, a: a, next: h, cache: true}
}

// ServeHTTP authenticates, checks the route's level and calls the handler with the
// actor (and audit.RequestInfo) in the request's context.
func (g gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := g.a
	// Every answer here is about one caller; no shared cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	if a.identity == nil || a.accounts == nil {
		writeProblem(w, r, coditect.Errorf(coditect.CodeUnavailable, "sign-in is not configured on this server"))
		return
	}
	ctx := audit.WithInfo(r.Context(), audit.RequestInfo{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 512)})
	if g.level == authPublic {
		if g.unlimited || a.rateLimit(w, r, a.limits(ctx, r, coditect.Actor{}, false)) {
			g.next.ServeHTTP(w, r.WithContext(ctx))
		}
		return
	}
	actor, found, err := a.authenticate(ctx, w, r)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	if !found {
		if g.level == authMaybePerson {
			if a.rateLimit(w, r, a.limits(ctx, r, coditect.Actor{}, false)) {
				g.next.ServeHTTP(w, r.WithContext(ctx))
			}
			return
		}
		writeProblem(w, r, coditect.Errorf(coditect.CodeUnauthorized,
			"sign in: send Authorization: Bearer <access token or API key>, or the session cookie"))
		return
	}
	setLogActor(ctx, actor)
	if (g.level == authPerson || g.level == authMaybePerson) && (actor.Kind != coditect.ActorAccount || actor.Delegated) {
		writeProblem(w, r, &coditect.Error{Code: codePersonRequired, Kind: coditect.CodeForbidden,
			Message: "only a person signed in to CODITECT itself can do this, not an API key, an OAuth client or an application's token"})
		return
	}
	if g.level == authMember {
		if actor.Delegated && actor.RoleCap == "" {
			writeProblem(w, r, &coditect.Error{Code: codeInsufficientScope, Kind: coditect.CodeForbidden,
				Message: "this token's scopes do not include organization access (api:read or api:write)"})
			return
		}
		scoped, err := a.resolveTenant(ctx, actor, r.PathValue("org"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		actor = scoped.CapRole()
		setLogActor(ctx, actor)
		if a.meter != nil {
			a.meter.Count(actor.Tenant) // in memory; flushed in batches, never a write per request
		}
	}
	if !a.rateLimit(w, r, a.limits(ctx, r, actor, true)) {
		return
	}
	r = r.WithContext(coditect.WithActor(ctx, actor))
	if g.cache && a.responses != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		a.serveCached(w, r, actor, g.next)
		return
	}
	if g.level == authMember && r.Method == http.MethodPost && len(r.Header.Values(headerIdempotencyKey)) > 0 {
		a.idem.serve(w, r, actor, g.next) // see idempotency.go; tenantless POSTs ignore the header
		return
	}
	g.next.ServeHTTP(w, r)
}

// codeInsufficientScope answers a delegated token without organization scopes.
const codeInsufficientScope coditect.Code = "auth.insufficient_scope"

// resolveTenant scopes actor to the path's {org}. An OAuth client is bound to its one
// organization exactly like an API key (another {org} is 404 and its role stays the
// one its token's scopes gave), so account.Service resolves it as one: the service's
// API-key case checks only that {org} is the actor's own tenant.
func (a *access) resolveTenant(ctx context.Context, actor coditect.Actor, org string) (coditect.Actor, error) {
	if actor.Kind != coditect.ActorOAuthClient {
		return a.accounts.ResolveTenant(ctx, actor, org)
	}
	asKey := actor
	asKey.Kind = coditect.ActorAPIKey
	if _, err := a.accounts.ResolveTenant(ctx, asKey, org); err != nil {
		return actor, err
	}
	return actor, nil
}

// authenticate finds the request's credentials and checks them. found is false when
// there are none. Precedence: the Authorization header (an API key; a JWT access
// token; else an OAuth access token), then the session cookie, which also needs the
// CSRF header on unsafe methods. A failure has its answer's headers already set; the
// caller writes err.
func (a *access) authenticate(ctx context.Context, w http.ResponseWriter, r *http.Request) (coditect.Actor, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		if !strings.EqualFold(scheme, "Bearer") || cred == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="coditect", error="invalid_request"`)
			return coditect.Actor{}, false, &coditect.Error{Code: coditect.CodeUnauthorized, Message: "the Authorization header must be: Bearer <access token or API key>"}
		}
		var actor coditect.Actor
		var err error
		if _, isKey := account.ParseAPIKey(cred); isKey {
			actor, err = a.accounts.AuthenticateAPIKey(ctx, cred)
		} else if a.oauthTokens != nil && !isJWT(cred) {
			actor, err = a.authenticateOAuthToken(ctx, cred)
		} else {
			actor, err = a.identity.AuthenticateAccessToken(ctx, cred)
		}
		if err != nil {
			if coditect.ErrorKind(err) == coditect.CodeUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="coditect", error="invalid_token"`)
			}
			return coditect.Actor{}, false, err
		}
		return actor, true, nil
	}

	c, err := r.Cookie(cookieSession)
	if err != nil || c.Value == "" {
		return coditect.Actor{}, false, nil
	}
	actor, err := a.identity.AuthenticateCookie(ctx, c.Value)
	if err != nil {
		if coditect.ErrorKind(err) == coditect.CodeUnauthorized {
			// A dead session's cookie would otherwise stick: it is HttpOnly, so the web
			// app cannot remove it itself.
			clearSessionCookies(w, a.cookieSecure)
		}
		return coditect.Actor{}, false, err
	}
	if !safeMethod(r.Method) && !a.identity.CheckCSRF(actor.SessionID, r.Header.Get(headerCSRF)) {
		return coditect.Actor{}, false, &coditect.Error{Code: codeCSRFFailed, Kind: coditect.CodeForbidden,
			Message: "a request signed in with the session cookie must send the " + headerCSRF + " header (the " + cookieCSRF + " cookie's value)"}
	}
	return actor, true, nil
}

// safeMethod reports whether method only reads (RFC 9110 §9.2.1), so a forged
// cross-site request with it cannot change anything.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// actorOf returns the request's actor; gated handlers always have one (maybePerson
// ones may not, which ok tells).
func actorOf(r *http.Request) (coditect.Actor, bool) { return coditect.ActorFrom(r.Context()) }

// clientOf describes the caller for sessions and audit rows.
func clientOf(r *http.Request) identity.Client {
	return identity.Client{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 512)}
}

// clientIP is the peer's address (see remoteIP), nil when it is not an IP address.
func clientIP(r *http.Request) *netip.Addr {
	ip, err := netip.ParseAddr(remoteIP(r))
	if err != nil {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	return &ip
}

// setSessionCookies starts a browser session: the HttpOnly session cookie and the
// CSRF cookie the web app reads, both ending with the session.
func setSessionCookies(w http.ResponseWriter, t identity.Tokens, secure bool) {
	for _, c := range []*http.Cookie{
		{Name: cookieSession, Value: t.Cookie, HttpOnly: true},
		{Name: cookieCSRF, Value: t.CSRFToken},
	} {
		c.Path, c.Expires, c.Secure, c.SameSite = "/", t.ExpiresAt, secure, http.SameSiteLaxMode
		http.SetCookie(w, c)
	}
}

// clearSessionCookies tells the browser to drop both session cookies.
func clearSessionCookies(w http.ResponseWriter, secure bool) {
	for _, c := range []*http.Cookie{
		{Name: cookieSession, HttpOnly: true},
		{Name: cookieCSRF},
	} {
		c.Path, c.MaxAge, c.Expires, c.Secure, c.SameSite = "/", -1, time.Unix(0, 0), secure, http.SameSiteLaxMode
		http.SetCookie(w, c)
	}
}

// documentAccess adds a gated route's security requirement and the answers its
// access check can give to its operation.
func documentAccess(op operation, level authLevel) operation {
	// 503: the services are not configured, or the database is down.
	// 429: over a rate limit (see RateLimits), with Retry-After.
	problems := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}
	if level != authPublic {
		op.security = []map[string][]string{{"bearerAuth": {}}, {"sessionCookie": {}}}
		problems = append(problems, http.StatusUnauthorized, http.StatusForbidden)
	}
	switch level {
	case authMaybePerson:
		op.security = append([]map[string][]string{{}}, op.security...) // {} = anonymous is fine too
	case authMember:
		problems = append(problems, http.StatusNotFound)
	}
	op.Problems = slices.Clone(op.Problems)
	for _, p := range problems {
		if !slices.Contains(op.Problems, p) {
			op.Problems = append(op.Problems, p)
		}
	}
	return op
}

// securitySchemes are the credentials the API takes, for components.securitySchemes.
func securitySchemes() map[string]any {
	return map[string]any{
		"bearerAuth": map[string]any{
			"type":         "http",
			"scheme":       "bearer",
			"bearerFormat": "JWT access token, an organization API key (cdk_…), or an OAuth access token",
			"description": "An access token from sign-up, login or refresh, an API key, or an access token from this server's OAuth provider " +
				"(POST /oauth2/token). An API key acts in its own organization only, with its role. An OAuth token issued to a person " +
				"(authorization code flow) acts as that person, with their roles. A client-credentials OAuth token acts for the client's " +
				"own organization only (any other {org} is 404, as for an API key) with the role member when it was granted the api:write " +
				"scope and viewer otherwise; it can never administer, and /v1/me… answers it 403 auth.person_required.",
		},
		"sessionCookie": map[string]any{
			"type": "apiKey",
			"in":   "cookie",
			"name": cookieSession,
			"description": "The browser session started by login with session \"cookie\". Unsafe methods (POST, PUT, PATCH, DELETE) " +
				"must also send the " + headerCSRF + " header with the value of the " + cookieCSRF + " cookie; without it they answer 403 auth.csrf_failed.",
		},
	}
}
