package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/coditect/coditect/internal/ratelimit"
	"github.com/coditect/coditect/internal/telemetry"
)

// defaultMaxBodyBytes caps request bodies when Deps.MaxBodyBytes is unset: far above any
// JSON body the API takes, far below what would hurt a pod.
const defaultMaxBodyBytes = 1 << 20

// Deps is everything the HTTP API needs from the rest of the program. cmd/coditect fills
// it in; NewServer gives zero fields a safe default where one exists.
//
// To add a service, add one field whose type is a small interface declared in this
// package next to the handlers that use it (e.g. `Projects projectService`), and pass
// only that field to the handler makers in routes.go.
type Deps struct {
	// Logger receives the access log, panics and internal errors. Nil discards them.
	Logger *slog.Logger
	// Registerer is where the HTTP metrics are registered, and Gatherer is what GET
	// /metrics exposes; normally both are the same *prometheus.Registry. When both are
	// nil a private registry is used; the process-wide default registry never is.
	Registerer prometheus.Registerer
	// Gatherer: see Registerer.
	Gatherer prometheus.Gatherer
	// MetricsElsewhere leaves GET /metrics off this handler (it answers 404 and is not
	// documented): the process serves it on a separate listener (CODITECT_METRICS_ADDR).
	MetricsElsewhere bool
	// Tracer starts a server span per request (named by its route pattern, e.g. "GET
	// /v1/orgs/{org}/projects"), child of the W3C trace context the request carries, read
	// with Propagator. Nil means no spans (trace context still flows when Propagator is
	// set); probes and /metrics are never traced.
	Tracer trace.TracerProvider
	// Propagator: see Tracer. Nil means W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Ready lists what GET /readyz checks. Names must be unique and non-empty.
	Ready []ReadyCheck
	// MaxBodyBytes caps every request body; 0 or less means 1 MiB.
	MaxBodyBytes int64
	// Version is reported in the OpenAPI document's info.version; "" means "dev".
	Version string

	// Identity is sign-up, sign-in, sessions and MFA (*identity.Service), and Accounts
	// is organizations, members, invitations and API keys (*account.Service). The
	// routes that need them are always mounted and documented; while either is nil
	// (tests of the middleware alone) those routes answer 503.
	Identity IdentityService
	// Accounts: see Identity.
	Accounts AccountService
	// JWKS returns the public signing keys for GET /.well-known/jwks.json, normally
	// a KeySet's JWKS method (e.g. identity.Keys.KeySet().JWKS). Nil answers 503.
	JWKS func() ([]byte, error)
	// CookieSecure marks the browser session cookies Secure (HTTPS only). Set it in
	// production; only plain-HTTP local development turns it off.
	CookieSecure bool
	// BaseDomain is the domain organizations live under: an organization's domain is
	// {slug}.{BaseDomain} (config CODITECT_BASE_DOMAIN). "" leaves domain out of
	// organization answers other than sign-up's.
	BaseDomain string
	// HashPassword hashes a new password (identity.HashPassword with the configured
	// Argon2 parameters). Only accepting an invitation without an account uses it; nil
	// makes that path answer 503 (signed-in people can still accept).
	HashPassword func(password string) (string, error)
	// CursorKey (32 bytes or more) authenticates the list cursors the API hands out,
	// so a client cannot forge a position, and (through a key derived from it)
	// encrypts the responses stored for Idempotency-Key replays. Every replica must
	// share it. Nil means a random key per process: cursors and replays then break
	// across restarts and replicas.
	CursorKey []byte
	// OAuth, when set, is the OAuth 2.0 / OpenID Connect provider's handler, mounted
	// at /.well-known/openid-configuration, /oauth2/{auth,token,revoke,introspect}
	// and /userinfo. Those routes do their own client authentication. The provider's
	// discovery document must point jwks_uri at /.well-known/jwks.json, which JWKS
	// serves: its ID tokens are signed with the same keys (identity.Keys).
	OAuth http.Handler
	// OAuthTokens, when set, makes the provider's access tokens API credentials (next
	// to API keys and the JWT access tokens): a user's token acts as that account, a
	// client-credentials token as the client in its own organization (member with the
	// api:write scope, viewer otherwise). Normally the same *oauth.Provider as
	// OAuthClients. Nil refuses them like any unknown token.
	OAuthTokens OAuthTokenVerifier
	// OAuthClients is the registration of organizations' OAuth clients
	// (/v1/orgs/{org}/oauth-clients). The routes are always mounted and documented;
	// while it is nil they answer 503.
	OAuthClients OAuthClientService
	// Work is workspaces, projects and tasks (*work.Service), and Audit the audit log
	// (*audit.Service). Their routes are always mounted and documented; while one is
	// nil its routes answer 503.
	Work WorkService
	// Audit: see Work.
	Audit AuditService
	// Exports is the organization's data exports (*export.Service):
	// /v1/orgs/{org}/exports…. The routes are always mounted and documented; while it
	// is nil they answer 503.
	Exports ExportService
	// Usage reads metered usage for GET /v1/orgs/{org}/billing/usage; nil answers 503.
	Usage UsageService
	// Meter counts every request inside an organization; nil counts nothing.
	Meter UsageMeter
	// RateLimiter draws every request from its budgets (per tenant, per principal, per
	// IP before sign-in; see RateLimits): normally a redis.Limiter, which falls back to
	// an in-process limiter while Redis fails. Nil limits nothing.
	RateLimiter ratelimit.Limiter
	// RateLimits are the budgets' rates.
	RateLimits RateLimits
	// ResponseCache, when set, keeps the answers of the GET routes marked cacheable in
	// routes.go (inOrgCached) for a minute, per tenant and role; any write in the
	// tenant drops them. Nil caches nothing.
	ResponseCache ResponseCache
	// Billing serves /v1/orgs/{org}/billing/… (but usage) and the Stripe webhook; nil
	// answers 503.
	Billing BillingService
	// Idempotency keeps the Idempotency-Key claims and the responses to replay
	// (postgres.IdempotencyKeys). The responses are stored encrypted under a key
	// derived from CursorKey, so every replica must share that too. While it is nil, a
	// POST in an organization that sends Idempotency-Key answers 503 (one without the
	// header runs as usual).
	Idempotency IdempotencyStore
	// UI is the web app (web.FS()): GET and HEAD requests outside the API's own paths
	// answer its files, and index.html for client-side routes (ui.go). Nil serves no UI.
	UI fs.FS
}

// ReadyCheck is one dependency GET /readyz probes.
type ReadyCheck struct {
	// Name is the key in the readiness body, e.g. "postgres".
	Name string
	// Critical means the service cannot do useful work without this dependency: when it
	// fails, /readyz answers 503 so the load balancer stops sending traffic. A failing
	// non-critical check only marks the service "degraded" (still 200).
	Critical bool
	// Check returns nil when the dependency answers. It must honour ctx's deadline.
	Check func(ctx context.Context) error
}

// NewServer returns the whole HTTP API: middleware around every route in routes.go. It
// panics on a programming error in deps or in the route table, so a broken server never
// starts.
func NewServer(deps Deps) http.Handler {
	deps = withDefaults(deps)
	m := newMetrics(deps.Registerer)
	rt, _ := mount(deps)
	var h http.Handler = rt
	if deps.UI != nil {
		h = withUI(deps.UI, rt)
	}
	return withMiddleware(deps, m, h)
}

// OpenAPIDocument returns the OpenAPI 3.1 document that NewServer(deps) serves at GET
// /v1/openapi.json, without starting anything (`coditect openapi`, for generating the
// web app's typed client). Like NewServer it panics on a broken route table.
func OpenAPIDocument(deps Deps) []byte {
	_, spec := mount(withDefaults(deps))
	return spec.json
}

// mount builds the router with every route and the OpenAPI document describing them.
func mount(deps Deps) (*router, *openAPISpec) {
	spec := &openAPISpec{}
	rt := newRouter()
	addRoutes(rt, deps, spec)
	if err := spec.build(deps.Version, rt.routes); err != nil {
		panic(fmt.Errorf("httpapi: building the OpenAPI document: %w", err))
	}
	return rt, spec
}

// withMiddleware wraps h in the request pipeline, outermost first. The request state goes
// in before recovery so that even a panic can be logged with its request id.
func withMiddleware(deps Deps, m *metrics, h http.Handler) http.Handler {
	h = limitBody(deps.MaxBodyBytes, h)
	h = observe(deps.Logger, m, h)
	h = traceRequests(deps.Tracer, deps.Propagator, h)
	h = assignRequestID(h)
	h = recoverPanics(deps.Logger, h)
	return withRequestState(h)
}

func withDefaults(deps Deps) Deps {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	deps.Registerer, deps.Gatherer = registry(deps.Registerer, deps.Gatherer)
	if deps.Tracer == nil {
		deps.Tracer = noop.NewTracerProvider()
	}
	if deps.Propagator == nil {
		deps.Propagator = telemetry.Propagator()
	}
	if deps.MaxBodyBytes <= 0 {
		deps.MaxBodyBytes = defaultMaxBodyBytes
	}
	if deps.Version == "" {
		deps.Version = "dev"
	}
	if len(deps.CursorKey) == 0 {
		deps.CursorKey = make([]byte, 32)
		_, _ = rand.Read(deps.CursorKey)
	} else if len(deps.CursorKey) < 32 {
		panic("httpapi: Deps.CursorKey must be at least 32 bytes")
	}
	seen := make(map[string]bool, len(deps.Ready))
	for _, c := range deps.Ready {
		if c.Name == "" || c.Check == nil || seen[c.Name] {
			panic(fmt.Sprintf("httpapi: ready check %q: need a unique non-empty Name and a Check", c.Name))
		}
		seen[c.Name] = true
	}
	return deps
}

// registry fills in a missing half from the other when it can serve as both (a
// *prometheus.Registry does). Metrics registered where /metrics cannot see them would be
// a silent misconfiguration, so a half that cannot be filled is a panic.
func registry(reg prometheus.Registerer, g prometheus.Gatherer) (prometheus.Registerer, prometheus.Gatherer) {
	switch {
	case reg == nil && g == nil:
		r := prometheus.NewRegistry()
		return r, r
	case reg == nil:
		if r, ok := g.(prometheus.Registerer); ok {
			return r, g
		}
	case g == nil:
		if gg, ok := reg.(prometheus.Gatherer); ok {
			return reg, gg
		}
	default:
		return reg, g
	}
	panic("httpapi: Deps needs both Registerer and Gatherer (or one *prometheus.Registry)")
}
