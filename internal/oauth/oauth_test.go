package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/mfa"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

const (
	userEmail    = "ada@example.com"
	userPassword = "correct horse battery staple"
	userName     = "Ada Lovelace"
	redirectURI  = "http://127.0.0.1/callback"
)

// mfaEmail's account has two-factor authentication on: it signs in with userPassword
// and mfaCode.
const (
	mfaEmail = "grace@example.com"
	mfaCode  = "123456"
)

// fixedAuthenticator knows one account, and one more with two-factor authentication.
type fixedAuthenticator struct{ id coditect.AccountID }

func (a fixedAuthenticator) Authenticate(_ context.Context, email, password, totpCode string) (coditect.AccountID, error) {
	wrong := coditect.Errorf(coditect.CodeUnauthorized, "wrong email or password")
	switch {
	case password != userPassword:
		return coditect.AccountID{}, wrong
	case email == userEmail:
		return a.id, nil
	case email == mfaEmail && totpCode == "":
		return coditect.AccountID{}, mfa.Required()
	case email == mfaEmail && totpCode != mfaCode:
		return coditect.AccountID{}, &coditect.Error{Code: mfa.CodeInvalid, Kind: coditect.CodeUnauthorized, Message: "invalid authentication code"}
	case email == mfaEmail:
		return a.id, nil
	}
	return coditect.AccountID{}, wrong
}

func (a fixedAuthenticator) Account(_ context.Context, id coditect.AccountID) (string, string, error) {
	if id != a.id {
		return "", "", coditect.Errorf(coditect.CodeNotFound, "account not found")
	}
	return userEmail, userName, nil
}

// fixture is a running provider with one organization whose admin can register
// clients, and one account that can sign in.
type fixture struct {
	p       *oauth.Provider
	issuer  string
	store   *postgres.Store
	admin   context.Context // an admin of organization A
	tenantA coditect.TenantID
	other   context.Context // an admin of organization B
	user    coditect.AccountID
	keys    *token.Rotator
}

func newOrg(t *testing.T, store *postgres.Store, slug string) (coditect.TenantID, context.Context) {
	t.Helper()
	tenant := coditect.NewID[coditect.TenantID]()
	ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount,
		AccountID: coditect.NewID[coditect.AccountID](), Tenant: tenant, Role: coditect.RoleAdmin})
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		_, err := tx.OrganizationCreate(ctx, account.Organization{ID: tenant, Slug: slug, Name: slug}, slug+".coditect.test")
		return err
	})
	require.NoError(t, err)
	return tenant, ctx
}

func setup(t *testing.T, alg token.Algorithm) fixture {
	t.Helper()
	store, _ := postgrestest.NewStore(t)
	tenantA, admin := newOrg(t, store, "org-a")
	_, other := newOrg(t, store, "org-b")
	key, err := token.GenerateKey(alg)
	require.NoError(t, err)
	ks, err := token.NewKeySet(key)
	require.NoError(t, err)

	srv := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1
	issuer := "http://" + srv.Listener.Addr().String()
	user := coditect.NewID[coditect.AccountID]()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	keys := token.NewRotator(ks)
	p, err := oauth.New(oauth.Config{Issuer: issuer, GlobalSecret: secret, ExtraScopes: []string{"api:read"}},
		postgres.OAuthStore{Store: store}, keys.Keys, fixedAuthenticator{id: user})
	require.NoError(t, err)
	srv.Config.Handler = p.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return fixture{p: p, issuer: issuer, store: store, admin: admin, tenantA: tenantA, other: other, user: user, keys: keys}
}

// codeClient registers a confidential authorization-code client and returns its
// oauth2 configuration, endpoints taken from discovery.
func (f fixture) codeClient(t *testing.T, ctx context.Context) (*oauth2.Config, *oidc.Provider, oauth.Client) {
	t.Helper()
	c, secret, err := f.p.RegisterClient(f.admin, oauth.ClientParams{Name: "Acme <Dashboard>", RedirectURIs: []string{redirectURI}})
	require.NoError(t, err)
	require.NotEmpty(t, secret)
	provider, err := oidc.NewProvider(ctx, f.issuer)
	require.NoError(t, err)
	conf := &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return conf, provider, c
}

// browser is a user agent with cookies that stops at redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var (
	tokenField = regexp.MustCompile(`name="token" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// page is an HTML form the server rendered.
type page struct {
	status int
	body   string
	action string // absolute
	token  string
}

func readPage(t *testing.T, base string, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := page{status: resp.StatusCode, body: string(b)}
	if m := tokenField.FindStringSubmatch(p.body); m != nil {
		p.token = html.UnescapeString(m[1])
	}
	if m := formAction.FindStringSubmatch(p.body); m != nil {
		p.action = base + html.UnescapeString(m[1])
	}
	return p
}

func (f fixture) get(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	return readPage(t, f.issuer, resp)
}

func (f fixture) post(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	require.NoError(t, err)
	return resp
}

// authorize runs the browser part of the code flow (login form, consent form,
// approve) and returns the redirect the server answered with.
func (f fixture) authorize(t *testing.T, authURL string) *url.URL {
	t.Helper()
	b := browser(t)
	login := f.get(t, b, authURL)
	require.Equal(t, http.StatusOK, login.status, login.body)
	require.NotEmpty(t, login.token)
	consent := readPage(t, f.issuer, f.post(t, b, login.action, url.Values{"step": {"login"}, "token": {login.token},
		"email": {userEmail}, "password": {userPassword}}))
	require.Equal(t, http.StatusOK, consent.status, consent.body)
	require.Contains(t, consent.body, "Allow")
	resp := f.post(t, b, consent.action, url.Values{"step": {"consent"}, "token": {consent.token}, "decision": {"approve"}})
	resp.Body.Close()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc
}

// code runs a fresh authorization and returns the code and the PKCE verifier.
func (f fixture) code(t *testing.T, conf *oauth2.Config, nonce string) (string, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	state := rand.Text()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if nonce != "" {
		opts = append(opts, oidc.Nonce(nonce))
	}
	loc := f.authorize(t, conf.AuthCodeURL(state, opts...))
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	require.Equal(t, state, loc.Query().Get("state"), "state comes back unchanged")
	require.Empty(t, loc.Query().Get("error"), loc.Query().Get("error_description"))
	require.NotEmpty(t, loc.Query().Get("code"))
	return loc.Query().Get("code"), verifier
}

// introspect asks /oauth2/introspect as the given client.
func (f fixture) introspect(t *testing.T, clientID, secret, tok string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.issuer+oauth.PathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "want *oauth2.RetrieveError, got %v", err)
	return re
}

func TestCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)
	ctx := context.Background()
	conf, provider, client := f.codeClient(t, ctx)

	nonce := rand.Text()
	code, verifier := f.code(t, conf, nonce)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken, "offline_access gives a refresh token")

	// The ID token verifies with go-oidc against the discovered JWKS.
	rawID, ok := tok.Extra("id_token").(string)
	require.True(t, ok, "the token response carries an id_token")
	idt, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, rawID)
	require.NoError(t, err)
	require.Equal(t, f.user.String(), idt.Subject)
	require.Equal(t, f.issuer, idt.Issuer)
	require.Equal(t, nonce, idt.Nonce)
	require.NoError(t, idt.VerifyAccessToken(tok.AccessToken), "at_hash matches")
	var claims struct{ Email, Name string }
	require.NoError(t, idt.Claims(&claims))
	require.Equal(t, userEmail, claims.Email)
	require.Equal(t, userName, claims.Name)

	// userinfo
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	require.Equal(t, f.user.String(), info.Subject)
	require.Equal(t, userEmail, info.Email)
	var infoClaims struct{ Name string }
	require.NoError(t, info.Claims(&infoClaims))
	require.Equal(t, userName, infoClaims.Name)

	// The API's view of the token.
	at, err := f.p.VerifyAccessToken(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, f.user, at.AccountID)
	require.True(t, at.Tenant.IsZero(), "a user's token is not bound to an organization")
	require.Equal(t, f.tenantA, at.ClientTenant)
	require.Equal(t, client.ClientID, at.ClientID)
	require.Equal(t, client.ID, at.ClientUUID)

	ins := f.introspect(t, conf.ClientID, conf.ClientSecret, tok.AccessToken)
	require.Equal(t, true, ins["active"])
	require.Equal(t, f.user.String(), ins["sub"])
	require.Equal(t, conf.ClientID, ins["client_id"])
	require.Equal(t, "openid profile email offline_access", ins["scope"])

	// Refresh: a new pair, the old access token dies, the new one works, and the new
	// ID token still verifies.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
	require.NotEqual(t, tok.RefreshToken, refreshed.RefreshToken, "refresh tokens rotate")
	require.Equal(t, false, f.introspect(t, conf.ClientID, conf.ClientSecret, tok.AccessToken)["active"])
	require.Equal(t, true, f.introspect(t, conf.ClientID, conf.ClientSecret, refreshed.AccessToken)["active"])
	rawID, ok = refreshed.Extra("id_token").(string)
	require.True(t, ok)
	idt, err = provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, rawID)
	require.NoError(t, err)
	require.Equal(t, f.user.String(), idt.Subject)

	// Revoke the refresh token (RFC 7009): its access tokens go too.
	form := url.Values{"token": {refreshed.RefreshToken}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequest(http.MethodPost, f.issuer+oauth.PathRevoke, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, conf.ClientID, conf.ClientSecret, refreshed.AccessToken))
	require.Equal(t, map[string]any{"active": false}, f.introspect(t, conf.ClientID, conf.ClientSecret, refreshed.RefreshToken))
	_, err = f.p.VerifyAccessToken(ctx, refreshed.AccessToken)
	require.Equal(t, coditect.CodeUnauthorized, coditect.ErrorCode(err))
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token()
	require.Equal(t, "invalid_grant", retrieveError(t, err).ErrorCode)
}

func TestCodeFlowEdDSA(t *testing.T) {
	t.Parallel()
	f := setup(t, token.EdDSA)
	ctx := context.Background()
	conf, provider, _ := f.codeClient(t, ctx)
	nonce := rand.Text()
	code, verifier := f.code(t, conf, nonce)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	idt, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	require.NoError(t, err)
	require.Equal(t, nonce, idt.Nonce)
	require.Equal(t, f.user.String(), idt.Subject)
	require.Empty(t, idt.AccessTokenHash, "at_hash is optional here, and fosite would hash it with SHA-256 where EdDSA wants SHA-512")
}

func TestDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)
	resp, err := http.Get(f.issuer + oauth.PathDiscovery)
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, f.issuer, doc["issuer"])
	require.Equal(t, []any{"ES256"}, doc["id_token_signing_alg_values_supported"])
	require.Equal(t, []any{"S256"}, doc["code_challenge_methods_supported"])
	require.Equal(t, []any{"code"}, doc["response_types_supported"])
	require.Equal(t, f.issuer+oauth.PathIntrospect, doc["introspection_endpoint"])
	require.Equal(t, f.issuer+oauth.PathRevoke, doc["revocation_endpoint"])
	require.NotContains(t, doc["token_endpoint_auth_methods_supported"], "private_key_jwt")

	resp2, err := http.Get(f.issuer + oauth.PathJWKS)
	require.NoError(t, err)
	defer resp2.Body.Close()
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp2.Body).Decode(&jwks))
	require.Len(t, jwks.Keys, 1)
	require.Equal(t, "ES256", jwks.Keys[0]["alg"])
	require.NotContains(t, jwks.Keys[0], "d", "no private key material")
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)
	ctx := context.Background()
	c, secret, err := f.p.RegisterClient(f.admin, oauth.ClientParams{Name: "nightly sync",
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"api:read"}})
	require.NoError(t, err)
	conf := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: secret, TokenURL: f.issuer + oauth.PathToken,
		Scopes: []string{"api:read"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := conf.Token(ctx)
	require.NoError(t, err)
	require.Empty(t, tok.RefreshToken)

	ins := f.introspect(t, c.ClientID, secret, tok.AccessToken)
	require.Equal(t, true, ins["active"])
	require.Equal(t, f.tenantA.String(), ins["tenant_id"], "the token is bound to the client's organization")
	require.Equal(t, "api:read", ins["scope"])
	require.Equal(t, c.ClientID, ins["client_id"])
	require.NotContains(t, ins, "sub")

	at, err := f.p.VerifyAccessToken(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, f.tenantA, at.Tenant)
	require.True(t, at.AccountID.IsZero())
	require.Equal(t, []string{"api:read"}, at.Scopes)
	require.Equal(t, c.ID, at.ClientUUID)
	require.Equal(t, c.ClientID, at.ClientID)

	t.Run("a scope the client was not registered for", func(t *testing.T) {
		bad := conf
		bad.Scopes = []string{"openid"}
		_, err := bad.Token(ctx)
		require.Equal(t, "invalid_scope", retrieveError(t, err).ErrorCode)
	})

	t.Run("userinfo needs a user", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, f.issuer+oauth.PathUserinfo, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("another organization's client cannot introspect the token", func(t *testing.T) {
		cb, secretB, err := f.p.RegisterClient(f.other, oauth.ClientParams{Name: "B", GrantTypes: []string{oauth.GrantClientCredentials}})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"active": false}, f.introspect(t, cb.ClientID, secretB, tok.AccessToken))
	})

	t.Run("introspection needs client authentication", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, f.issuer+oauth.PathIntrospect, strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, err = http.PostForm(f.issuer+oauth.PathIntrospect, url.Values{"token": {tok.AccessToken}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)
	ctx := context.Background()
	conf, _, client := f.codeClient(t, ctx)

	t.Run("wrong client secret", func(t *testing.T) {
		bad := *conf
		bad.ClientSecret = "ocs_wrong"
		code, verifier := f.code(t, conf, "")
		_, err := bad.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		re := retrieveError(t, err)
		require.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
		require.Equal(t, "invalid_client", re.ErrorCode)

		cc := clientcredentials.Config{ClientID: client.ClientID, ClientSecret: "ocs_wrong", TokenURL: f.issuer + oauth.PathToken,
			AuthStyle: oauth2.AuthStyleInParams}
		_, err = cc.Token(ctx)
		re = retrieveError(t, err)
		require.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
		require.Equal(t, "invalid_client", re.ErrorCode)
	})

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		code, _ := f.code(t, conf, "")
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		require.Equal(t, "invalid_grant", retrieveError(t, err).ErrorCode)
	})

	t.Run("no PKCE", func(t *testing.T) {
		loc := f.authorizeError(t, conf.AuthCodeURL(rand.Text()))
		require.Equal(t, "invalid_request", loc.Query().Get("error"))
	})

	t.Run("plain PKCE", func(t *testing.T) {
		loc := f.authorizeError(t, conf.AuthCodeURL(rand.Text(), oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		require.Equal(t, "invalid_request", loc.Query().Get("error"))
	})

	t.Run("reused code revokes the tokens issued from it", func(t *testing.T) {
		code, verifier := f.code(t, conf, "")
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		require.Equal(t, "invalid_grant", retrieveError(t, err).ErrorCode)
		require.Equal(t, false, f.introspect(t, conf.ClientID, conf.ClientSecret, tok.AccessToken)["active"])
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.Equal(t, "invalid_grant", retrieveError(t, err).ErrorCode)
	})

	t.Run("reused refresh token revokes the grant", func(t *testing.T) {
		code, verifier := f.code(t, conf, "")
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.NoError(t, err)
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.Equal(t, "invalid_grant", retrieveError(t, err).ErrorCode)
		require.Equal(t, false, f.introspect(t, conf.ClientID, conf.ClientSecret, next.AccessToken)["active"])
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token()
		require.Equal(t, "invalid_grant", retrieveError(t, err).ErrorCode)
	})

	t.Run("redirect_uri not registered: an error, no redirect", func(t *testing.T) {
		evil := *conf
		evil.RedirectURL = "https://evil.example/callback"
		resp, err := browser(t).Get(evil.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Empty(t, resp.Header.Get("Location"))
		require.Contains(t, string(body), "invalid_request")
	})

	t.Run("unknown client: an error, no redirect", func(t *testing.T) {
		unknown := *conf
		unknown.ClientID = "oc_unknown"
		resp, err := browser(t).Get(unknown.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		require.NoError(t, err)
		resp.Body.Close()
		require.GreaterOrEqual(t, resp.StatusCode, 400)
		require.Empty(t, resp.Header.Get("Location"))
	})

	t.Run("deny", func(t *testing.T) {
		b := browser(t)
		state := rand.Text()
		login := f.get(t, b, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		consent := readPage(t, f.issuer, f.post(t, b, login.action, url.Values{"step": {"login"}, "token": {login.token},
			"email": {userEmail}, "password": {userPassword}}))
		resp := f.post(t, b, consent.action, url.Values{"step": {"consent"}, "token": {consent.token}, "decision": {"deny"}})
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "access_denied", loc.Query().Get("error"))
		require.Equal(t, state, loc.Query().Get("state"))
		require.Empty(t, loc.Query().Get("code"))
	})

	t.Run("wrong password", func(t *testing.T) {
		b := browser(t)
		login := f.get(t, b, conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		again := readPage(t, f.issuer, f.post(t, b, login.action, url.Values{"step": {"login"}, "token": {login.token},
			"email": {userEmail}, "password": {"nope"}}))
		require.Equal(t, http.StatusUnauthorized, again.status)
		require.Contains(t, again.body, "Wrong email or password.")
		require.NotContains(t, again.body, `value="consent"`)
	})

	t.Run("two-factor authentication", func(t *testing.T) {
		b := browser(t)
		login := f.get(t, b, conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		require.Contains(t, login.body, `name="totp_code"`, "the form always has the code field")
		require.Contains(t, login.body, "only if two-factor authentication is on")

		// No code: asked for it, with the email kept and no consent yet.
		again := readPage(t, f.issuer, f.post(t, b, login.action, url.Values{"step": {"login"}, "token": {login.token},
			"email": {mfaEmail}, "password": {userPassword}}))
		require.Equal(t, http.StatusUnauthorized, again.status)
		require.Contains(t, again.body, "This account uses two-factor authentication.")
		require.Contains(t, again.body, `value="`+mfaEmail+`"`)
		require.NotContains(t, again.body, `value="consent"`)

		// A wrong code.
		again = readPage(t, f.issuer, f.post(t, b, again.action, url.Values{"step": {"login"}, "token": {again.token},
			"email": {mfaEmail}, "password": {userPassword}, "totp_code": {"654321"}}))
		require.Equal(t, http.StatusUnauthorized, again.status)
		require.Contains(t, again.body, "The authentication code is wrong or was already used.")
		require.NotContains(t, again.body, `value="consent"`)

		// A wrong password with a code is just wrong credentials.
		again = readPage(t, f.issuer, f.post(t, b, again.action, url.Values{"step": {"login"}, "token": {again.token},
			"email": {mfaEmail}, "password": {"nope"}, "totp_code": {mfaCode}}))
		require.Equal(t, http.StatusUnauthorized, again.status)
		require.Contains(t, again.body, "Wrong email or password.")

		// The right code: consent.
		consent := readPage(t, f.issuer, f.post(t, b, again.action, url.Values{"step": {"login"}, "token": {again.token},
			"email": {mfaEmail}, "password": {userPassword}, "totp_code": {" " + mfaCode + " "}}))
		require.Equal(t, http.StatusOK, consent.status, consent.body)
		require.Contains(t, consent.body, `value="consent"`)
	})

	t.Run("forms are bound to the browser and the request (CSRF)", func(t *testing.T) {
		victim, attacker := browser(t), browser(t)
		authURL := conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		login := f.get(t, attacker, authURL)
		f.get(t, victim, authURL) // the victim has a browser cookie of its own
		// The attacker's form token in the victim's browser: refused.
		p := readPage(t, f.issuer, f.post(t, victim, login.action, url.Values{"step": {"login"}, "token": {login.token},
			"email": {userEmail}, "password": {userPassword}}))
		require.Equal(t, http.StatusBadRequest, p.status)
		require.NotContains(t, p.body, `value="consent"`)

		// A consent token for one authorization request does not approve another.
		consent := readPage(t, f.issuer, f.post(t, attacker, login.action, url.Values{"step": {"login"}, "token": {login.token},
			"email": {userEmail}, "password": {userPassword}}))
		require.Equal(t, http.StatusOK, consent.status)
		other := conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		otherAction := f.issuer + oauth.PathAuthorize + "?" + strings.SplitN(other, "?", 2)[1]
		resp := f.post(t, attacker, otherAction, url.Values{"step": {"consent"}, "token": {consent.token}, "decision": {"approve"}})
		p = readPage(t, f.issuer, resp)
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Empty(t, resp.Header.Get("Location"))

		// A tampered token: refused.
		tampered := consent.token[:len(consent.token)-2] + "AA"
		resp = f.post(t, attacker, consent.action, url.Values{"step": {"consent"}, "token": {tampered}, "decision": {"approve"}})
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("pages escape the client name", func(t *testing.T) {
		login := f.get(t, browser(t), conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		require.Contains(t, login.body, "Acme &lt;Dashboard&gt;")
		require.NotContains(t, login.body, "<Dashboard>")
	})

	t.Run("prompt=none is login_required", func(t *testing.T) {
		loc := f.authorizeError(t, conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("prompt", "none")))
		require.Equal(t, "login_required", loc.Query().Get("error"))
	})

	t.Run("a revoked client can no longer be used", func(t *testing.T) {
		cc, secret, err := f.p.RegisterClient(f.admin, oauth.ClientParams{Name: "to revoke", GrantTypes: []string{oauth.GrantClientCredentials}})
		require.NoError(t, err)
		ccConf := clientcredentials.Config{ClientID: cc.ClientID, ClientSecret: secret, TokenURL: f.issuer + oauth.PathToken,
			AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := ccConf.Token(ctx)
		require.NoError(t, err)
		code, verifier := f.code(t, conf, "")
		userTok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)

		_, err = f.p.RevokeClient(f.other, cc.ID)
		require.True(t, coditect.IsNotFound(err), "another organization cannot revoke it")
		_, err = ccConf.Token(ctx)
		require.NoError(t, err, "still usable")

		revoked, err := f.p.RevokeClient(f.admin, cc.ID)
		require.NoError(t, err)
		require.NotNil(t, revoked.RevokedAt)
		_, err = ccConf.Token(ctx)
		re := retrieveError(t, err)
		require.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
		require.Equal(t, "invalid_client", re.ErrorCode)
		_, err = f.p.VerifyAccessToken(ctx, tok.AccessToken)
		require.Equal(t, coditect.CodeUnauthorized, coditect.ErrorCode(err), "its tokens stop working")

		_, err = f.p.RevokeClient(f.admin, client.ID)
		require.NoError(t, err)
		_, err = f.p.VerifyAccessToken(ctx, userTok.AccessToken)
		require.Equal(t, coditect.CodeUnauthorized, coditect.ErrorCode(err))
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: userTok.RefreshToken}).Token()
		require.Equal(t, "invalid_client", retrieveError(t, err).ErrorCode)
		resp, err := browser(t).Get(conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		require.NoError(t, err)
		resp.Body.Close()
		require.GreaterOrEqual(t, resp.StatusCode, 400)
		require.Empty(t, resp.Header.Get("Location"))
	})
}

// authorizeError expects the authorization endpoint to redirect back with an error.
func (f fixture) authorizeError(t *testing.T, authURL string) *url.URL {
	t.Helper()
	resp, err := browser(t).Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), redirectURI))
	return loc
}

func TestPublicClient(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)
	ctx := context.Background()
	c, secret, err := f.p.RegisterClient(f.admin, oauth.ClientParams{Name: "CLI", RedirectURIs: []string{redirectURI}, Public: true})
	require.NoError(t, err)
	require.Empty(t, secret, "public clients get no secret")
	provider, err := oidc.NewProvider(ctx, f.issuer)
	require.NoError(t, err)
	conf := &oauth2.Config{ClientID: c.ClientID, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	code, verifier := f.code(t, conf, rand.Text())
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	_, err = provider.Verifier(&oidc.Config{ClientID: c.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	require.NoError(t, err)
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	require.NotEmpty(t, refreshed.AccessToken)

	// A public client cannot introspect: it has no secret to authenticate with.
	req, err := http.NewRequest(http.MethodPost, f.issuer+oauth.PathIntrospect, strings.NewReader(url.Values{"token": {refreshed.AccessToken}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ClientID, "")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestClientRegistration(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)

	t.Run("admin+ only", func(t *testing.T) {
		a, _ := coditect.ActorFrom(f.admin)
		a.Role = coditect.RoleMember
		member := coditect.WithActor(context.Background(), a)
		_, _, err := f.p.RegisterClient(member, oauth.ClientParams{Name: "x", RedirectURIs: []string{redirectURI}})
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
		_, err = f.p.ListClients(member, oauth.Page{})
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
		_, _, err = f.p.RegisterClient(context.Background(), oauth.ClientParams{Name: "x", RedirectURIs: []string{redirectURI}})
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
	})

	t.Run("validation", func(t *testing.T) {
		for name, params := range map[string]oauth.ClientParams{
			"no name":                 {RedirectURIs: []string{redirectURI}},
			"no redirect uri":         {Name: "x"},
			"http on a public host":   {Name: "x", RedirectURIs: []string{"http://app.example/cb"}},
			"relative redirect uri":   {Name: "x", RedirectURIs: []string{"/cb"}},
			"fragment":                {Name: "x", RedirectURIs: []string{"https://app.example/cb#x"}},
			"custom scheme":           {Name: "x", RedirectURIs: []string{"com.example.app:/cb"}},
			"unknown grant":           {Name: "x", RedirectURIs: []string{redirectURI}, GrantTypes: []string{"password"}},
			"implicit grant":          {Name: "x", RedirectURIs: []string{redirectURI}, GrantTypes: []string{"implicit"}},
			"public client creds":     {Name: "x", Public: true, GrantTypes: []string{oauth.GrantClientCredentials}},
			"refresh without code":    {Name: "x", GrantTypes: []string{oauth.GrantRefreshToken, oauth.GrantClientCredentials}},
			"unknown scope":           {Name: "x", RedirectURIs: []string{redirectURI}, Scopes: []string{"admin"}},
			"user info in uri":        {Name: "x", RedirectURIs: []string{"https://u:p@app.example/cb"}},
			"name with control chars": {Name: "x\x00y", RedirectURIs: []string{redirectURI}},
		} {
			_, _, err := f.p.RegisterClient(f.admin, params)
			require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err), name)
		}
	})

	t.Run("list, get and revoke stay inside the organization", func(t *testing.T) {
		withInfo := audit.WithInfo(f.admin, audit.RequestInfo{UserAgent: "registration-test"})
		c, secret, err := f.p.RegisterClient(withInfo, oauth.ClientParams{Name: "listed", RedirectURIs: []string{"https://app.example/cb", "http://localhost/cb"}})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(secret, "ocs_"))
		require.NotContains(t, string(mustJSON(t, c)), base64.RawURLEncoding.EncodeToString(c.SecretHash), "the hash is never serialized")
		list, err := f.p.ListClients(f.admin, oauth.Page{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, c.ClientID, list[0].ClientID)
		got, err := f.p.GetClient(f.admin, c.ID)
		require.NoError(t, err)
		require.Equal(t, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, got.GrantTypes)
		require.Equal(t, []string{"openid", "profile", "email", "offline_access"}, got.Scopes)

		list, err = f.p.ListClients(f.other, oauth.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		_, err = f.p.GetClient(f.other, c.ID)
		require.True(t, coditect.IsNotFound(err))
		_, err = f.p.RevokeClient(f.other, c.ID)
		require.True(t, coditect.IsNotFound(err))
		got, err = f.p.GetClient(f.admin, c.ID)
		require.NoError(t, err)
		require.Nil(t, got.RevokedAt)

		r1, err := f.p.RevokeClient(f.admin, c.ID)
		require.NoError(t, err)
		r2, err := f.p.RevokeClient(f.admin, c.ID)
		require.NoError(t, err, "revoking twice is fine")
		require.Equal(t, r1.RevokedAt, r2.RevokedAt)

		entries, err := f.store.AuditLogList(f.admin, 10, time.Time{}, [16]byte{})
		require.NoError(t, err)
		var actions []string
		for _, e := range entries {
			if e.TargetID == c.ID.String() {
				actions = append(actions, e.Action)
				if e.Action == "oauth_client.create" {
					require.Equal(t, "registration-test", e.UserAgent)
					require.NotContains(t, string(e.Changes), secret)
				}
			}
		}
		require.ElementsMatch(t, []string{"oauth_client.create", "oauth_client.revoke"}, actions)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// flakyStore fails the global lookups while down is set, as a database outage would.
type flakyStore struct {
	oauth.Store
	down *atomic.Bool
}

func (s flakyStore) OAuthClientLookup(ctx context.Context, clientID string) (coditect.TenantID, oauth.ClientUUID, error) {
	if s.down.Load() {
		return coditect.TenantID{}, oauth.ClientUUID{}, &coditect.Error{Code: coditect.CodeUnavailable, Message: "the database is unavailable"}
	}
	return s.Store.OAuthClientLookup(ctx, clientID)
}

func (s flakyStore) OAuthRequestGet(ctx context.Context, kind oauth.RequestKind, signature string) (oauth.StoredRequest, error) {
	if s.down.Load() {
		return oauth.StoredRequest{}, &coditect.Error{Code: coditect.CodeUnavailable, Message: "the database is unavailable"}
	}
	return s.Store.OAuthRequestGet(ctx, kind, signature)
}

func TestStoreOutageIsNotInvalidCredentials(t *testing.T) {
	t.Parallel()
	store, _ := postgrestest.NewStore(t)
	_, admin := newOrg(t, store, "org-a")
	key, err := token.GenerateKey(token.ES256)
	require.NoError(t, err)
	ks, err := token.NewKeySet(key)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	down := &atomic.Bool{}
	p, err := oauth.New(oauth.Config{Issuer: issuer, GlobalSecret: []byte(strings.Repeat("k", 32))},
		flakyStore{Store: postgres.OAuthStore{Store: store}, down: down}, token.NewRotator(ks).Keys, fixedAuthenticator{})
	require.NoError(t, err)
	srv.Config.Handler = p.Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	ctx := context.Background()
	c, secret, err := p.RegisterClient(admin, oauth.ClientParams{Name: "cc", GrantTypes: []string{oauth.GrantClientCredentials}})
	require.NoError(t, err)
	conf := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: secret, TokenURL: issuer + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := conf.Token(ctx)
	require.NoError(t, err)

	down.Store(true)
	_, err = conf.Token(ctx)
	require.Equal(t, http.StatusServiceUnavailable, retrieveError(t, err).Response.StatusCode)
	_, err = p.VerifyAccessToken(ctx, tok.AccessToken)
	require.Equal(t, coditect.CodeUnavailable, coditect.ErrorCode(err))
	for _, path := range []string{oauth.PathIntrospect, oauth.PathRevoke} {
		req, err := http.NewRequest(http.MethodPost, issuer+path, strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ClientID, secret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, path)
	}

	down.Store(false)
	_, err = p.VerifyAccessToken(ctx, tok.AccessToken)
	require.NoError(t, err)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	f := setup(t, token.ES256)
	ctx := context.Background()
	conf, provider, _ := f.codeClient(t, ctx)
	verifier := provider.Verifier(&oidc.Config{ClientID: conf.ClientID})
	idToken := func() string {
		code, pkce := f.code(t, conf, "")
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
		require.NoError(t, err)
		return tok.Extra("id_token").(string)
	}
	before := idToken()
	_, err := verifier.Verify(ctx, before)
	require.NoError(t, err)

	// Same algorithm: relying parties such as go-oidc take the allowed algorithms from
	// discovery once, so changing the algorithm needs them to discover again.
	next, err := token.GenerateKey(token.ES256)
	require.NoError(t, err)
	_, err = f.keys.Rotate(next, 1)
	require.NoError(t, err)
	after := idToken()
	_, err = verifier.Verify(ctx, after)
	require.NoError(t, err, "go-oidc fetches the JWKS again for the new kid")
	_, err = verifier.Verify(ctx, before)
	require.NoError(t, err, "the previous key still verifies")

	resp, err := http.Get(f.issuer + oauth.PathJWKS)
	require.NoError(t, err)
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&jwks))
	require.Len(t, jwks.Keys, 2)
	require.Equal(t, next.ID, jwks.Keys[0].Kid)
}

func TestCheckIssuer(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"https://coditect.example.com", "https://coditect.example.com/", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:9000"} {
		require.NoError(t, oauth.CheckIssuer(ok), ok)
	}
	for _, bad := range []string{"", "coditect.example.com", "http://coditect.example.com", "http://10.0.0.5:8080", "https://coditect.example.com/app",
		"https://coditect.example.com?x=1", "https://u:p@coditect.example.com"} {
		require.Error(t, oauth.CheckIssuer(bad), bad)
	}
}
