// Package oauth is CODITECT's OAuth 2.0 / OpenID Connect provider, built on ory/fosite:
// discovery, JWKS, the authorization code flow with PKCE (with a minimal HTML login and
// consent page), client credentials bound to the client's organization, refresh token
// rotation, revocation (RFC 7009), introspection (RFC 7662), userinfo and ID tokens
// signed with the platform's signing keys. Organizations register their clients
// through RegisterClient, ListClients and RevokeClient.
//
// Access and refresh tokens are opaque (fosite's HMAC strategy): the token's signature
// keys its stored request, so revoking works at once. Resource servers check them with
// Provider.VerifyAccessToken or /oauth2/introspect.
//
// The package runs no SQL and speaks no pgx: it declares Store, which
// internal/postgres implements.
package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/token"
)

// The endpoints the provider serves, relative to the issuer.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/.well-known/jwks.json"
	PathAuthorize  = "/oauth2/auth"
	PathToken      = "/oauth2/token"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathUserinfo   = "/userinfo"
)

// The scopes every deployment supports. Clients may also register Config.ExtraScopes.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access" // asks for a refresh token
)

// The API scopes the platform registers as Config.ExtraScopes. A client-credentials
// token acts for its organization as a member with ScopeAPIWrite and as a viewer
// otherwise (see internal/httpapi).
const (
	ScopeAPIRead  = "api:read"
	ScopeAPIWrite = "api:write"
)

// The grant types a client can be registered for.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Config configures a Provider.
type Config struct {
	// Issuer is the public base URL, e.g. https://coditect.example.com: the "iss" of ID
	// tokens and the prefix of every endpoint in the discovery document. It has no path,
	// so the handler must be mounted at the root. It must be https, except on a
	// loopback host (http://127.0.0.1:8080, http://localhost:8080) for development.
	Issuer string
	// AccessTokenTTL is the lifetime of access tokens and ID tokens (default 1 h).
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of refresh tokens (default 30 days).
	RefreshTokenTTL time.Duration
	// AuthCodeTTL is the lifetime of authorization codes (default 10 min).
	AuthCodeTTL time.Duration
	// GlobalSecret (at least 32 bytes, random) keys the HMAC of opaque tokens and the
	// CSRF protection of the login and consent forms. Changing it invalidates every
	// outstanding code and token.
	GlobalSecret []byte
	// ExtraScopes are API scopes clients may register and request besides openid,
	// profile, email and offline_access.
	ExtraScopes []string
	// Log receives server-side errors (never tokens or secrets). Nil discards them.
	Log *slog.Logger
}

// Store is the persistence the provider needs; internal/postgres.OAuthStore implements
// it. Client reads and the transaction are scoped to the context's tenant; lookups by
// client_id and the request storage are global (their tables are keyed by client_id and
// by token signature).
type Store interface {
	// InTenantTx runs fn in one transaction scoped to the context's tenant.
	InTenantTx(ctx context.Context, fn func(Tx) error) error
	// OAuthClientGet returns a client of the context's tenant, revoked or not.
	OAuthClientGet(ctx context.Context, id ClientUUID) (Client, error)
	// OAuthClientList pages through the context tenant's clients by (created_at, id).
	OAuthClientList(ctx context.Context, p Page) ([]Client, error)
	// OAuthClientLookup resolves a client_id to its organization and key, across tenants.
	OAuthClientLookup(ctx context.Context, clientID string) (coditect.TenantID, ClientUUID, error)

	// OAuthRequestCreate stores a code, token or session under its signature.
	OAuthRequestCreate(ctx context.Context, r StoredRequest) error
	// OAuthRequestGet returns the row (kind, signature), active or not; not found otherwise.
	OAuthRequestGet(ctx context.Context, kind RequestKind, signature string) (StoredRequest, error)
	// OAuthRequestDelete removes the row (kind, signature), if any.
	OAuthRequestDelete(ctx context.Context, kind RequestKind, signature string) error
	// OAuthRequestDeactivate marks the row inactive and reports whether this call did
	// it: false when it was already inactive or missing (compare-and-set).
	OAuthRequestDeactivate(ctx context.Context, kind RequestKind, signature string) (bool, error)
	// OAuthRequestDeactivateByRequestID marks every row of kind from one grant inactive.
	OAuthRequestDeactivateByRequestID(ctx context.Context, kind RequestKind, requestID string) error
	// OAuthRequestDeleteByRequestID removes every row of kind from one grant.
	OAuthRequestDeleteByRequestID(ctx context.Context, kind RequestKind, requestID string) error
}

// Tx is what client registration and revocation do inside their one transaction.
type Tx interface {
	// OAuthClientCreate inserts the client and claims its client_id across tenants.
	OAuthClientCreate(ctx context.Context, c Client) (Client, error)
	// OAuthClientRevoke sets revoked_at on an active client; not found when there is
	// no active client with that id in the tenant.
	OAuthClientRevoke(ctx context.Context, id ClientUUID) (Client, error)
	// AuditLogInsert appends to the tenant's audit log.
	AuditLogInsert(ctx context.Context, e audit.Entry) error
}

// Authenticator checks a person's credentials on the login page and describes the
// account for userinfo and ID tokens. The identity feature implements it.
type Authenticator interface {
	// Authenticate returns the account for email, password and, when the account has
	// two-factor authentication on, totpCode (a TOTP or recovery code; "" otherwise).
	// Wrong credentials are a *coditect.Error of kind CodeUnauthorized; a missing
	// second factor has code mfa.CodeRequired and a wrong one mfa.CodeInvalid (both
	// of kind CodeUnauthorized); throttling is of kind CodeRateLimited.
	Authenticate(ctx context.Context, email, password, totpCode string) (coditect.AccountID, error)
	// Account returns the account's email and display name.
	Account(ctx context.Context, id coditect.AccountID) (email, name string, err error)
}

// KeySource yields the signing keys of ID tokens: the current key signs, the current
// and previous keys are published at /.well-known/jwks.json. It is called on every use,
// so rotations apply at once. Pass identity.Keys' KeySet or a token.Rotator's Keys
// method, as for token.NewIssuer.
type KeySource func() token.KeySet

// Provider is the OAuth 2.0 / OpenID Connect authorization server.
type Provider struct {
	cfg     Config
	store   Store
	keys    KeySource
	auth    Authenticator
	log     *slog.Logger
	oauth   fosite.OAuth2Provider
	storage *fositeStorage
	formKey []byte // MACs the login and consent forms
	secure  bool   // the issuer is https: cookies are Secure and __Host- prefixed
	scopes  []string
	mux     *http.ServeMux
}

// New builds a Provider. It checks the configuration and that the key source has a
// usable signing key.
func New(cfg Config, store Store, keys KeySource, auth Authenticator) (*Provider, error) {
	if store == nil || keys == nil || auth == nil {
		return nil, errors.New("oauth: store, keys and authenticator are required")
	}
	issuer, secure, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	cfg.Issuer = issuer
	if len(cfg.GlobalSecret) < 32 {
		return nil, errors.New("oauth: GlobalSecret must be at least 32 bytes")
	}
	cfg.AccessTokenTTL = orDefault(cfg.AccessTokenTTL, time.Hour)
	cfg.RefreshTokenTTL = orDefault(cfg.RefreshTokenTTL, 30*24*time.Hour)
	cfg.AuthCodeTTL = orDefault(cfg.AuthCodeTTL, 10*time.Minute)
	if cfg.AccessTokenTTL < 0 || cfg.RefreshTokenTTL < 0 || cfg.AuthCodeTTL < 0 {
		return nil, errors.New("oauth: token lifetimes must be positive")
	}
	scopes := []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}
	for _, s := range cfg.ExtraScopes {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("oauth: extra scope %q is not a valid scope token", s)
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if _, _, err := signingKey(keys()); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}

	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenTTL,
		RefreshTokenLifespan:           cfg.RefreshTokenTTL,
		AuthorizeCodeLifespan:          cfg.AuthCodeTTL,
		IDTokenLifespan:                cfg.AccessTokenTTL,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + PathToken,
		GlobalSecret:                   derive(cfg.GlobalSecret, "coditect oauth token hmac"),
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCE:                    true, // every code flow, confidential clients too (RFC 9700 §2.1.1)
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false, // S256 only
		RedirectSecureChecker:          fosite.IsRedirectURISecureStrict,
		ClientSecretsHasher:            secretHasher{},
		AllowedPromptValues:            []string{"login", "consent", "select_account", "none"},
		RefreshTokenScopes:             []string{ScopeOfflineAccess}, // refresh tokens only with offline_access
		SendDebugMessagesToClients:     false,
	}
	strategy := compose.NewOAuth2HMACStrategy(fc)
	signer := &idTokenSigner{keys: keys}
	p := &Provider{
		cfg: cfg, store: store, keys: keys, auth: auth, log: cfg.Log,
		formKey: derive(cfg.GlobalSecret, "coditect oauth login and consent forms"),
		secure:  secure,
		scopes:  scopes,
	}
	p.storage = &fositeStorage{store: store, codes: strategy}
	p.oauth = compose.Compose(fc, p.storage, &compose.CommonStrategy{
		CoreStrategy:               strategy,
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: signer, Config: fc},
		Signer:                     signer,
	},
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
	)
	mux := http.NewServeMux()
	mux.HandleFunc(PathDiscovery, p.handleDiscovery)
	mux.HandleFunc(PathJWKS, p.handleJWKS)
	mux.HandleFunc(PathAuthorize, p.handleAuthorize)
	mux.HandleFunc(PathToken, p.handleToken)
	mux.HandleFunc(PathRevoke, p.handleRevoke)
	mux.HandleFunc(PathIntrospect, p.handleIntrospect)
	mux.HandleFunc(PathUserinfo, p.handleUserinfo)
	p.mux = mux
	return p, nil
}

// Handler serves the discovery document, the JWKS and the OAuth endpoints at their
// fixed paths (PathDiscovery, …). Mount it at the root of the issuer's host.
func (p *Provider) Handler() http.Handler { return p.mux }

// Paths lists the paths Handler serves, for mounting them one by one.
func Paths() []string {
	return []string{PathDiscovery, PathJWKS, PathAuthorize, PathToken, PathRevoke, PathIntrospect, PathUserinfo}
}

// Scopes returns the scopes clients may register and request.
func (p *Provider) Scopes() []string { return slices.Clone(p.scopes) }

// CheckIssuer reports whether raw can be Config.Issuer: an absolute https URL with no
// path (http only on a loopback host). Callers use it to tell a deployment whose base
// URL cannot host the provider from any other failure of New.
func CheckIssuer(raw string) error {
	_, _, err := checkIssuer(raw)
	return err
}

func checkIssuer(raw string) (string, bool, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || raw == "" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false, fmt.Errorf("oauth: Issuer %q must be an absolute URL like https://coditect.example.com", raw)
	}
	if u.Path != "" {
		return "", false, fmt.Errorf("oauth: Issuer %q must not have a path: the endpoints live at the root", raw)
	}
	switch {
	case u.Scheme == "https":
		return u.String(), true, nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return u.String(), false, nil
	}
	return "", false, fmt.Errorf("oauth: Issuer %q must be https (http only on a loopback host)", raw)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// derive returns a 32-byte key for one purpose from the global secret, so the token
// HMAC and the form MAC never share a key.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
