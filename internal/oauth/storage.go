package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"

	"github.com/coditect/coditect/internal/coditect"
)

// RequestKind says what a stored request is.
type RequestKind string

// The kinds of stored request.
const (
	KindAuthorizeCode RequestKind = "authorize_code"
	KindAccessToken   RequestKind = "access_token"
	KindRefreshToken  RequestKind = "refresh_token"
	KindPKCE          RequestKind = "pkce" // an authorization code's PKCE challenge
	KindOIDC          RequestKind = "oidc" // an authorization code's OpenID Connect request
)

// StoredRequest is one row of fosite's request storage: an authorization code, an
// access or refresh token, or an authorization code's PKCE or OpenID Connect session.
// Signature is the HMAC half of the opaque code or token (never the token itself);
// the PKCE and OpenID Connect sessions use their code's signature.
type StoredRequest struct {
	Signature   string
	Kind        RequestKind
	RequestID   string             // the grant: every code and token of one authorization shares it
	ClientID    string             // the client's public client_id
	Tenant      coditect.TenantID  // the client's organization
	AccountID   coditect.AccountID // the resource owner; zero for client credentials
	Data        []byte             // JSON: scopes, audiences, allow-listed form values, the session
	RequestedAt time.Time
	ExpiresAt   *time.Time // nil: never expires
	Active      bool
}

// storedForm lists the form values kept with a stored request: what fosite reads back
// from the authorization request (redirect_uri match, PKCE, nonce and prompt for the
// ID token). Codes, tokens, verifiers, secrets and passwords never reach the database.
var storedForm = []string{"redirect_uri", "response_type", "scope", "client_id", "grant_type",
	"code_challenge", "code_challenge_method", "nonce", "prompt", "max_age", "acr_values"}

// requestData is StoredRequest.Data.
type requestData struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	RequestedScope    []string   `json:"requested_scope"`
	GrantedScope      []string   `json:"granted_scope"`
	RequestedAudience []string   `json:"requested_audience,omitempty"`
	GrantedAudience   []string   `json:"granted_audience,omitempty"`
	Form              url.Values `json:"form"`
	Session           *session   `json:"session"`
}

// fositeStorage implements fosite's storage interfaces over Store. Codes and tokens
// are looked up by signature; their client is loaded again on every read, so a
// revoked client's codes and tokens stop working at once.
type fositeStorage struct {
	store Store
	codes oauth2.AuthorizeCodeStrategy // turns an authorization code into its signature
}

var (
	_ fosite.Storage                     = (*fositeStorage)(nil)
	_ oauth2.CoreStorage                 = (*fositeStorage)(nil)
	_ oauth2.TokenRevocationStorage      = (*fositeStorage)(nil)
	_ pkce.PKCERequestStorage            = (*fositeStorage)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStorage)(nil)
)

// errNoAssertions is returned for client assertions (private_key_jwt): not supported
// and not advertised, so no JWT ID can ever be accepted, replayed or not.
var errNoAssertions = fosite.ErrInvalidClient.WithHint("Client authentication with private_key_jwt is not supported.")

// clientCache remembers clients for one HTTP request: fosite asks for the same client
// several times per request.
type clientCache struct {
	mu sync.Mutex
	m  map[string]*fositeClient
}

type clientCacheKey struct{}

func withClientCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, clientCacheKey{}, &clientCache{m: map[string]*fositeClient{}})
}

// GetClient implements fosite.ClientManager: the global client_id lookup gives the
// organization, then the client is read inside that organization. Unknown and revoked
// clients are fosite.ErrNotFound.
func (s *fositeStorage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *fositeStorage) client(ctx context.Context, id string) (*fositeClient, error) {
	cache, _ := ctx.Value(clientCacheKey{}).(*clientCache)
	if cache != nil {
		cache.mu.Lock()
		c, ok := cache.m[id]
		cache.mu.Unlock()
		if ok {
			return c, nil
		}
	}
	if id == "" || len(id) > 100 {
		return nil, fosite.ErrNotFound
	}
	tenant, key, err := s.store.OAuthClientLookup(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	// The client row lives in its organization's tenant table: read it there, as a
	// system actor with no role.
	tctx := coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorSystem, Tenant: tenant})
	row, err := s.store.OAuthClientGet(tctx, key)
	if err != nil {
		return nil, storeErr(err)
	}
	if row.RevokedAt != nil || row.ClientID != id {
		return nil, fosite.ErrNotFound
	}
	c := &fositeClient{c: row}
	if cache != nil {
		cache.mu.Lock()
		cache.m[id] = c
		cache.mu.Unlock()
	}
	return c, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager. private_key_jwt is not
// supported, so every assertion is refused rather than remembered.
func (s *fositeStorage) ClientAssertionJWTValid(context.Context, string) error {
	return errNoAssertions
}

// SetClientAssertionJWT implements fosite.ClientManager; see ClientAssertionJWTValid.
func (s *fositeStorage) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return errNoAssertions
}

// storeErr maps not found to fosite.ErrNotFound and keeps other errors.
func storeErr(err error) error {
	if coditect.IsNotFound(err) {
		return fosite.ErrNotFound
	}
	return err
}

func (s *fositeStorage) create(ctx context.Context, kind RequestKind, signature string, r fosite.Requester) error {
	c, ok := r.GetClient().(*fositeClient)
	if !ok {
		return errors.New("oauth: request without a registered client")
	}
	sess, ok := r.GetSession().(*session)
	if !ok {
		return errors.New("oauth: request with a foreign session type")
	}
	form := url.Values{}
	for _, k := range storedForm {
		if v, ok := r.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	data, err := json.Marshal(requestData{ID: r.GetID(), RequestedAt: r.GetRequestedAt(),
		RequestedScope: r.GetRequestedScopes(), GrantedScope: r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Form: form, Session: sess})
	if err != nil {
		return err
	}
	var exp *time.Time
	if t := sess.GetExpiresAt(tokenType(kind)); !t.IsZero() {
		exp = &t
	}
	account, _ := coditect.ParseID[coditect.AccountID](sess.Subject)
	return s.store.OAuthRequestCreate(ctx, StoredRequest{Signature: signature, Kind: kind, RequestID: r.GetID(),
		ClientID: c.GetID(), Tenant: c.c.Tenant, AccountID: account, Data: data, RequestedAt: r.GetRequestedAt(),
		ExpiresAt: exp, Active: true})
}

// get loads a stored request and reports whether it is active. Missing rows, rows
// whose client is gone or revoked, and undecodable rows are fosite.ErrNotFound.
func (s *fositeStorage) get(ctx context.Context, kind RequestKind, signature string) (*fosite.Request, bool, error) {
	if signature == "" {
		return nil, false, fosite.ErrNotFound
	}
	row, err := s.store.OAuthRequestGet(ctx, kind, signature)
	if err != nil {
		return nil, false, storeErr(err)
	}
	c, err := s.client(ctx, row.ClientID)
	if err != nil {
		return nil, false, err
	}
	if c.c.Tenant != row.Tenant {
		return nil, false, fosite.ErrNotFound
	}
	var d requestData
	if err := json.Unmarshal(row.Data, &d); err != nil || d.Session == nil {
		return nil, false, fosite.ErrNotFound
	}
	if d.Form == nil {
		d.Form = url.Values{}
	}
	return &fosite.Request{ID: d.ID, RequestedAt: d.RequestedAt, Client: c,
		RequestedScope: d.RequestedScope, GrantedScope: d.GrantedScope,
		RequestedAudience: d.RequestedAudience, GrantedAudience: d.GrantedAudience,
		Form: d.Form, Session: d.Session}, row.Active, nil
}

func tokenType(kind RequestKind) fosite.TokenType {
	switch kind {
	case KindAccessToken:
		return fosite.AccessToken
	case KindRefreshToken:
		return fosite.RefreshToken
	}
	return fosite.AuthorizeCode
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *fositeStorage) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, KindAuthorizeCode, signature, r)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. A used code returns
// its request with fosite.ErrInvalidatedAuthorizeCode, so fosite revokes the tokens
// issued from it.
func (s *fositeStorage) GetAuthorizeCodeSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	r, active, err := s.get(ctx, KindAuthorizeCode, signature)
	if err != nil {
		return nil, err
	}
	if !active {
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. It is a
// compare-and-set: of two concurrent exchanges of one code, only one gets tokens.
func (s *fositeStorage) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	ok, err := s.store.OAuthRequestDeactivate(ctx, KindAuthorizeCode, signature)
	if err != nil {
		return err
	}
	if !ok {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return nil
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *fositeStorage) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, KindAccessToken, signature, r)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *fositeStorage) GetAccessTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	r, active, err := s.get(ctx, KindAccessToken, signature)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return r, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *fositeStorage) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.store.OAuthRequestDelete(ctx, KindAccessToken, signature)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage. Tokens of one grant
// are revoked together by request id, so the access token signature is not needed.
func (s *fositeStorage) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return s.create(ctx, KindRefreshToken, signature, r)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A rotated or revoked
// token returns its request with fosite.ErrInactiveToken, so fosite treats its use as
// reuse and revokes the whole grant.
func (s *fositeStorage) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	r, active, err := s.get(ctx, KindRefreshToken, signature)
	if err != nil {
		return nil, err
	}
	if !active {
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *fositeStorage) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.store.OAuthRequestDelete(ctx, KindRefreshToken, signature)
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the presented refresh
// token becomes inactive (compare-and-set, so a concurrent second use fails) and the
// grant's access tokens are revoked; fosite then stores the new pair.
func (s *fositeStorage) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	ok, err := s.store.OAuthRequestDeactivate(ctx, KindRefreshToken, signature)
	if err != nil {
		return err
	}
	if !ok {
		return fosite.ErrInactiveToken
	}
	return s.store.OAuthRequestDeleteByRequestID(ctx, KindAccessToken, requestID)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage.
func (s *fositeStorage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.store.OAuthRequestDeactivateByRequestID(ctx, KindRefreshToken, requestID)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage.
func (s *fositeStorage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.store.OAuthRequestDeleteByRequestID(ctx, KindAccessToken, requestID)
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *fositeStorage) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, KindPKCE, signature, r)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *fositeStorage) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	r, active, err := s.get(ctx, KindPKCE, signature)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return r, nil
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *fositeStorage) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.store.OAuthRequestDelete(ctx, KindPKCE, signature)
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage. fosite
// passes the authorization code itself; it is stored under the code's signature.
func (s *fositeStorage) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, KindOIDC, s.codes.AuthorizeCodeSignature(ctx, code), r)
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *fositeStorage) GetOpenIDConnectSession(ctx context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	r, active, err := s.get(ctx, KindOIDC, s.codes.AuthorizeCodeSignature(ctx, code))
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, openid.ErrNoSessionFound
	}
	return r, nil
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *fositeStorage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.store.OAuthRequestDelete(ctx, KindOIDC, s.codes.AuthorizeCodeSignature(ctx, code))
}
