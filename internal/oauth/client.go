package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// ClientUUID is an OAuth client's key inside its organization (the row's id). The
// public identifier is Client.ClientID.
type ClientUUID [16]byte

// String returns the canonical UUID form.
func (u ClientUUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// IsZero reports whether the id is unset.
func (u ClientUUID) IsZero() bool { return u == ClientUUID{} }

// MarshalText implements encoding.TextMarshaler so ids are JSON strings.
func (u ClientUUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *ClientUUID) UnmarshalText(b []byte) error {
	v, err := ParseClientUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// ParseClientUUID parses the canonical UUID form of a client's id.
func ParseClientUUID(s string) (ClientUUID, error) { return coditect.ParseID[ClientUUID](s) }

// Client is an OAuth client registered by an organization.
type Client struct {
	ID           ClientUUID        `json:"id"`
	Tenant       coditect.TenantID `json:"organization_id"`
	ClientID     string            `json:"client_id"`
	Name         string            `json:"name"`
	SecretHash   []byte            `json:"-"` // SHA-256 of the secret; nil for public clients
	RedirectURIs []string          `json:"redirect_uris"`
	GrantTypes   []string          `json:"grant_types"`
	Scopes       []string          `json:"scopes"`
	Public       bool              `json:"public"`
	CreatedBy    *[16]byte         `json:"-"` // the registering account or API key
	CreatedAt    time.Time         `json:"created_at"`
	RevokedAt    *time.Time        `json:"revoked_at"`
}

// Page asks for up to Limit clients after the position (CreatedAt, ID) of the last
// client of the previous page; the zero Page is the first page.
type Page struct {
	Limit     int
	CreatedAt time.Time
	ID        ClientUUID
}

// ClientParams describe a client to register.
type ClientParams struct {
	Name string
	// RedirectURIs are compared exactly (a loopback http URI matches any port, RFC
	// 8252). Each is https, or http on 127.0.0.1, [::1] or localhost, with no fragment.
	// Required for the authorization_code grant.
	RedirectURIs []string
	// GrantTypes: authorization_code, refresh_token, client_credentials. Default:
	// authorization_code and refresh_token. A public client cannot use
	// client_credentials, and refresh_token needs authorization_code.
	GrantTypes []string
	// Scopes the client may request. Default: openid, profile, email and offline_access
	// for code-flow clients, none for client-credentials-only clients.
	Scopes []string
	// Public marks a client that cannot keep a secret (native or browser app): it gets
	// no secret and must use PKCE.
	Public bool
}

// Limits on registration input.
const (
	maxRedirectURIs   = 20
	maxRedirectURILen = 2000
	maxNameLen        = 200
)

// RegisterClient registers a client in the context's organization and returns it with
// its secret, which is shown this once and stored only as a hash ("" for public
// clients). The actor needs coditect.ActManageOAuthClients (admin or owner). It
// writes an audit row with the request origin from audit.WithInfo, if any.
func (p *Provider) RegisterClient(ctx context.Context, params ClientParams) (Client, string, error) {
	actor, err := requireAdmin(ctx)
	if err != nil {
		return Client{}, "", err
	}
	c, err := p.validateClient(params)
	if err != nil {
		return Client{}, "", err
	}
	c.ID = coditect.NewID[ClientUUID]()
	c.Tenant = actor.Tenant
	c.ClientID = "oc_" + strings.ToLower(rand.Text())
	if id := actor.AuditActorID(); id != nil {
		c.CreatedBy = id
	}
	var secret string
	if !c.Public {
		secret = "ocs_" + rand.Text() + rand.Text() // 256 random bits
		c.SecretHash = hashSecret([]byte(secret))
	}
	changes := map[string]any{"name": c.Name, "client_id": c.ClientID, "redirect_uris": c.RedirectURIs,
		"grant_types": c.GrantTypes, "scopes": c.Scopes, "public": c.Public}
	err = p.store.InTenantTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.OAuthClientCreate(ctx, c); err != nil {
			return err
		}
		e, err := auditEntry(ctx, "oauth_client.create", c.ID, changes)
		if err != nil {
			return err
		}
		return tx.AuditLogInsert(ctx, e)
	})
	if err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

// ListClients pages through the context organization's clients, revoked ones included.
// The actor needs coditect.ActManageOAuthClients (admin or owner).
func (p *Provider) ListClients(ctx context.Context, page Page) ([]Client, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return p.store.OAuthClientList(ctx, page)
}

// GetClient returns one client of the context's organization; another organization's
// client is not found. The actor needs coditect.ActManageOAuthClients (admin or owner).
func (p *Provider) GetClient(ctx context.Context, id ClientUUID) (Client, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return Client{}, err
	}
	return p.store.OAuthClientGet(ctx, id)
}

// RevokeClient revokes a client of the context's organization: it can no longer
// authenticate, and every code and token issued to it stops working at once. Revoking
// a revoked client changes nothing and returns it. The actor needs
// coditect.ActManageOAuthClients (admin or owner). It writes an audit row.
func (p *Provider) RevokeClient(ctx context.Context, id ClientUUID) (Client, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return Client{}, err
	}
	var c Client
	err := p.store.InTenantTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.OAuthClientRevoke(ctx, id); err != nil {
			return err
		}
		e, err := auditEntry(ctx, "oauth_client.revoke", c.ID, map[string]bool{"revoked": true})
		if err != nil {
			return err
		}
		return tx.AuditLogInsert(ctx, e)
	})
	if coditect.IsNotFound(err) {
		// Already revoked is done; anything else (another tenant's, unknown) is not found.
		if existing, gerr := p.store.OAuthClientGet(ctx, id); gerr == nil && existing.RevokedAt != nil {
			return existing, nil
		}
	}
	if err != nil {
		return Client{}, err
	}
	return c, nil
}

// requireAdmin checks the permission table: managing OAuth clients is admin+.
func requireAdmin(ctx context.Context) (coditect.Actor, error) {
	actor, _ := coditect.ActorFrom(ctx)
	if err := coditect.Authorize(actor, coditect.ActManageOAuthClients); err != nil {
		return coditect.Actor{}, err
	}
	return actor, nil
}

func auditEntry(ctx context.Context, action string, target ClientUUID, changes any) (audit.Entry, error) {
	return audit.NewEntry(ctx, action, "oauth_client", target.String(), changes)
}

// validateClient checks registration input and fills in the defaults.
func (p *Provider) validateClient(params ClientParams) (Client, error) {
	var fields []coditect.FieldError
	bad := func(field, msg string) { fields = append(fields, coditect.FieldError{Field: field, Message: msg}) }

	name := strings.TrimSpace(params.Name)
	if name == "" || len([]rune(name)) > maxNameLen || strings.ContainsFunc(name, isControl) {
		bad("name", "must be 1 to 200 characters")
	}

	grants := params.GrantTypes
	if len(grants) == 0 {
		grants = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	grants = dedupe(grants)
	for _, g := range grants {
		if g != GrantAuthorizationCode && g != GrantRefreshToken && g != GrantClientCredentials {
			bad("grant_types", "must be authorization_code, refresh_token or client_credentials")
			break
		}
	}
	code := slices.Contains(grants, GrantAuthorizationCode)
	if slices.Contains(grants, GrantRefreshToken) && !code {
		bad("grant_types", "refresh_token needs authorization_code")
	}
	if params.Public && slices.Contains(grants, GrantClientCredentials) {
		bad("grant_types", "a public client cannot use client_credentials")
	}

	uris := dedupe(params.RedirectURIs)
	switch {
	case code && len(uris) == 0:
		bad("redirect_uris", "at least one is required for authorization_code")
	case len(uris) > maxRedirectURIs:
		bad("redirect_uris", "at most 20")
	}
	for _, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			bad("redirect_uris", msg)
			break
		}
	}

	scopes := params.Scopes
	if scopes == nil && code {
		scopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}
	}
	scopes = dedupe(scopes)
	for _, s := range scopes {
		if !slices.Contains(p.scopes, s) {
			bad("scopes", "unknown scope "+quoteShort(s)+"; supported: "+strings.Join(p.scopes, " "))
			break
		}
	}
	if len(fields) > 0 {
		return Client{}, coditect.Invalid(fields...)
	}
	if uris == nil {
		uris = []string{}
	}
	if scopes == nil {
		scopes = []string{}
	}
	return Client{Name: name, RedirectURIs: uris, GrantTypes: grants, Scopes: scopes, Public: params.Public}, nil
}

// checkRedirectURI returns why raw cannot be a redirect URI, or "".
func checkRedirectURI(raw string) string {
	if len(raw) > maxRedirectURILen {
		return "each must be at most 2000 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "each must be an absolute URL"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	if u.User != nil {
		return "must not contain a user name or password"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if h := u.Hostname(); h == "127.0.0.1" || h == "::1" || h == "localhost" {
			return ""
		}
		return "http is allowed only for 127.0.0.1, [::1] or localhost; use https"
	}
	return "must be https (or http on 127.0.0.1, [::1] or localhost)"
}

func dedupe(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}

// validScopeToken reports whether s is an RFC 6749 scope-token.
func validScopeToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if r <= 0x20 || r == '"' || r == '\\' || r > 0x7e {
			return false
		}
	}
	return true
}

// hashSecret returns the stored form of a client secret: SHA-256. The secret is 256
// random bits made by the server, so a fast hash is as strong as a slow one here and
// keeps the token endpoint cheap.
func hashSecret(secret []byte) []byte {
	h := sha256.Sum256(secret)
	return h[:]
}

// secretHasher is fosite's client-secret hasher: SHA-256, compared in constant time.
type secretHasher struct{}

var errBadSecret = errors.New("oauth: client secret does not match")

// Compare implements fosite.Hasher.
func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if len(hash) != sha256.Size || len(data) == 0 {
		return errBadSecret
	}
	if subtle.ConstantTimeCompare(hash, hashSecret(data)) != 1 {
		return errBadSecret
	}
	return nil
}

// Hash implements fosite.Hasher.
func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return hashSecret(data), nil
}

// fositeClient adapts a Client to fosite.Client. It deliberately does not implement
// fosite.OpenIDConnectClient: private_key_jwt, request objects and request_uri are not
// supported, and fosite refuses them for plain clients.
type fositeClient struct{ c Client }

var _ fosite.Client = (*fositeClient)(nil)

func (f *fositeClient) GetID() string             { return f.c.ClientID }
func (f *fositeClient) GetHashedSecret() []byte   { return f.c.SecretHash }
func (f *fositeClient) GetRedirectURIs() []string { return f.c.RedirectURIs }
func (f *fositeClient) GetGrantTypes() fosite.Arguments {
	return fosite.Arguments(f.c.GrantTypes)
}
func (f *fositeClient) GetResponseTypes() fosite.Arguments {
	if slices.Contains(f.c.GrantTypes, GrantAuthorizationCode) {
		return fosite.Arguments{"code"}
	}
	return fosite.Arguments{}
}
func (f *fositeClient) GetScopes() fosite.Arguments   { return fosite.Arguments(f.c.Scopes) }
func (f *fositeClient) IsPublic() bool                { return f.c.Public }
func (f *fositeClient) GetAudience() fosite.Arguments { return nil }
