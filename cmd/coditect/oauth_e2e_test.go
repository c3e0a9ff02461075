package main

import (
	"context"
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/worker"
)

// freeAddr returns a 127.0.0.1 address with a port nobody listens on right now, so
// the server's base URL (the OAuth issuer) can be known before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

var (
	oauthFormToken  = regexp.MustCompile(`name="token" value="([^"]+)"`)
	oauthFormAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// oauthForm is the sign-in or consent form of a page the provider rendered.
type oauthForm struct {
	status        int
	body          string
	action, token string
}

func readOAuthForm(t *testing.T, base string, resp *http.Response) oauthForm {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	f := oauthForm{status: resp.StatusCode, body: string(b)}
	if m := oauthFormToken.FindStringSubmatch(f.body); m != nil {
		f.token = html.UnescapeString(m[1])
	}
	if m := oauthFormAction.FindStringSubmatch(f.body); m != nil {
		f.action = base + html.UnescapeString(m[1])
	}
	return f
}

// TestOAuthEndToEnd runs the real binary with the OAuth provider mounted: an
// organization registers a client through the API; a person signs in to it with the
// authorization code flow and PKCE through the HTML forms; the ID token verifies with
// go-oidc against the server's discovery and JWKS; the access token works at
// /userinfo and on the API; a client-credentials token acts for the organization;
// revoking the client ends its tokens; the purge job runs; no secret reaches the logs.
func TestOAuthEndToEnd(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	_, env["SMTP_URL"] = startSMTP(t) // the welcome email goes there, not to files
	addr := freeAddr(t)
	base := "http://" + addr
	env["CODITECT_ADDR"] = addr
	env["CODITECT_BASE_URL"] = base
	env["CODITECT_ARGON2_MEMORY_KIB"] = "8192"
	env["CODITECT_ARGON2_ITERATIONS"] = "1"
	env["CODITECT_LOG_LEVEL"] = "debug"
	p := start(t, env, "serve", "--workers")
	require.Equal(t, base, p.url)
	c := api{t: t, base: base}
	ctx := context.Background()

	const password = "correct horse battery staple"
	var signup struct {
		tokens
		Account      struct{ ID, Email string }
		Organization struct{ ID, Slug string }
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{
		"email": "ada@example.com", "password": password, "name": "Ada Lovelace", "organization_name": "Analytical Engines"}, &signup))
	org := signup.Organization.Slug

	// Register a confidential code-flow client through the API.
	const redirectURI = "http://127.0.0.1/callback"
	var client struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/orgs/"+org+"/oauth-clients", signup.AccessToken,
		map[string]any{"name": "Dashboard", "redirect_uris": []string{redirectURI},
			"scopes": []string{"openid", "profile", "email", "offline_access", "api:read"}}, &client))
	require.True(t, strings.HasPrefix(client.ClientSecret, "ocs_"))

	// Discovery: the issuer is the base URL and the keys are the JWKS the API serves.
	provider, err := oidc.NewProvider(ctx, base)
	require.NoError(t, err)
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	require.NoError(t, provider.Claims(&disc))
	require.Equal(t, base+"/.well-known/jwks.json", disc.JWKSURI)

	conf := &oauth2.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "api:read"}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader

	// The browser part: sign in through the form, approve the consent page.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier, state, nonce := oauth2.GenerateVerifier(), rand.Text(), rand.Text()
	resp, err := browser.Get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	require.NoError(t, err)
	login := readOAuthForm(t, base, resp)
	require.Equal(t, http.StatusOK, login.status, login.body)
	require.Contains(t, login.body, "Dashboard")
	require.Contains(t, login.body, `name="totp_code"`)
	resp, err = browser.PostForm(login.action, url.Values{"step": {"login"}, "token": {login.token},
		"email": {"ada@example.com"}, "password": {"wrong password!!"}, "totp_code": {""}})
	require.NoError(t, err)
	login = readOAuthForm(t, base, resp)
	require.Equal(t, http.StatusUnauthorized, login.status)
	require.Contains(t, login.body, "Wrong email or password.")
	resp, err = browser.PostForm(login.action, url.Values{"step": {"login"}, "token": {login.token},
		"email": {"ada@example.com"}, "password": {password}, "totp_code": {""}})
	require.NoError(t, err)
	consent := readOAuthForm(t, base, resp)
	require.Equal(t, http.StatusOK, consent.status, consent.body)
	require.Contains(t, consent.body, "ada@example.com")
	resp, err = browser.PostForm(consent.action, url.Values{"step": {"consent"}, "token": {consent.token}, "decision": {"approve"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	require.Equal(t, state, loc.Query().Get("state"))
	code := loc.Query().Get("code")
	require.NotEmpty(t, code, loc.Query().Get("error_description"))

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)

	// The ID token verifies against the server's JWKS.
	rawID, ok := tok.Extra("id_token").(string)
	require.True(t, ok)
	idt, err := provider.Verifier(&oidc.Config{ClientID: client.ClientID}).Verify(ctx, rawID)
	require.NoError(t, err)
	require.Equal(t, signup.Account.ID, idt.Subject)
	require.Equal(t, base, idt.Issuer)
	require.Equal(t, nonce, idt.Nonce)
	require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))
	var claims struct{ Email, Name string }
	require.NoError(t, idt.Claims(&claims))
	require.Equal(t, "ada@example.com", claims.Email)
	require.Equal(t, "Ada Lovelace", claims.Name)

	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	require.Equal(t, signup.Account.ID, info.Subject)
	require.Equal(t, "ada@example.com", info.Email)

	// The access token is an API credential for the person, capped by the approved
	// scopes (api:read: at most a viewer), and it cannot manage the account itself.
	var orgs struct {
		Data []struct {
			Organization struct{ Slug string }
			Role         string
		}
	}
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs", tok.AccessToken, nil, &orgs))
	require.Len(t, orgs.Data, 1)
	require.Equal(t, org, orgs.Data[0].Organization.Slug)
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs/"+org+"/members", tok.AccessToken, nil, nil))
	require.Equal(t, http.StatusForbidden, c.call("POST", "/v1/orgs/"+org+"/invitations", tok.AccessToken, map[string]any{"email": "x@example.com", "role": "viewer"}, nil))
	require.Equal(t, http.StatusForbidden, c.call("GET", "/v1/me", tok.AccessToken, nil, nil))

	// Refresh rotates; the new access token works, the old one is gone.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs", refreshed.AccessToken, nil, nil))
	require.Equal(t, http.StatusUnauthorized, c.call("GET", "/v1/orgs", tok.AccessToken, nil, nil))

	// A client-credentials client acts for its organization only.
	var other struct{ Slug string }
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/orgs", signup.AccessToken, map[string]any{"name": "Difference Engines"}, &other))
	var cc map[string]any
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/orgs/"+org+"/oauth-clients", signup.AccessToken, map[string]any{
		"name": "Nightly sync", "grant_types": []string{"client_credentials"}, "scopes": []string{"api:read", "api:write"}}, &cc))
	ccConf := clientcredentials.Config{ClientID: cc["client_id"].(string), ClientSecret: cc["client_secret"].(string),
		TokenURL: base + oauth.PathToken, Scopes: []string{"api:write"}, AuthStyle: oauth2.AuthStyleInHeader}
	ccTok, err := ccConf.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs/"+org, ccTok.AccessToken, nil, nil))
	require.Equal(t, http.StatusNotFound, c.call("GET", "/v1/orgs/"+other.Slug, ccTok.AccessToken, nil, nil))
	require.Equal(t, http.StatusForbidden, c.call("GET", "/v1/orgs/"+org+"/oauth-clients", ccTok.AccessToken, nil, nil))
	require.Equal(t, http.StatusForbidden, c.call("GET", "/v1/me", ccTok.AccessToken, nil, nil))

	// Revoking the code-flow client through the API ends its tokens at once.
	require.Equal(t, http.StatusNoContent, c.call("DELETE", "/v1/orgs/"+org+"/oauth-clients/"+client.ID, signup.AccessToken, nil, nil))
	require.Equal(t, http.StatusUnauthorized, c.call("GET", "/v1/orgs", refreshed.AccessToken, nil, nil))
	_, err = provider.UserInfo(ctx, oauth2.StaticTokenSource(refreshed))
	require.Error(t, err)
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs/"+org, ccTok.AccessToken, nil, nil), "the other client still works")

	// The hourly purge of expired codes and tokens is scheduled and runs (once at start).
	conn, err := pgx.Connect(ctx, env["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`,
			worker.OAuthPurgeArgs{}.Kind()).Scan(&n)
		return err == nil && n > 0
	}, 30*time.Second, 100*time.Millisecond)

	// Nothing secret reached the logs.
	p.stop()
	<-p.done
	p.done <- nil
	logs := p.stderr.String() + p.stdout.String()
	for _, secret := range []string{password, client.ClientSecret, cc["client_secret"].(string), code, verifier, tok.AccessToken,
		tok.RefreshToken, refreshed.AccessToken, refreshed.RefreshToken, ccTok.AccessToken, rawID, signup.AccessToken, testSecret} {
		require.NotContains(t, logs, secret)
	}
}

// TestOAuthProviderOffForABaseURLItCannotServe: a base URL that cannot be an OAuth
// issuer (plain http on a non-loopback host) leaves the provider off, with a warning,
// rather than stopping the API.
func TestOAuthProviderOffForABaseURLItCannotServe(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	env["CODITECT_BASE_URL"] = "http://coditect.internal:8080"
	env["CODITECT_ARGON2_MEMORY_KIB"] = "8192"
	env["CODITECT_ARGON2_ITERATIONS"] = "1"
	p := start(t, env, "serve")
	status, _, _ := get(t, p.url+"/healthz")
	require.Equal(t, http.StatusOK, status)
	status, body, _ := get(t, p.url+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusNotFound, status, body)
	c := api{t: t, base: p.url}
	var signup struct {
		tokens
		Organization struct{ Slug string }
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{
		"email": "ada@example.com", "password": "correct horse battery staple", "name": "Ada", "organization_name": "Acme"}, &signup))
	var pr problem
	require.Equal(t, http.StatusServiceUnavailable, c.call("GET", "/v1/orgs/"+signup.Organization.Slug+"/oauth-clients", signup.AccessToken, nil, &pr))
	require.Equal(t, "unavailable", pr.Code)
	require.Contains(t, p.stderr.String(), "the OAuth provider is off")
}

func TestOAuthPurgeWorker(t *testing.T) {
	t.Parallel()
	store, _ := postgrestest.NewStore(t)
	s := postgres.OAuthStore{Store: store}
	ctx := context.Background()
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	for sig, exp := range map[string]*time.Time{"expired": &past, "live": &future, "forever": nil} {
		require.NoError(t, s.OAuthRequestCreate(ctx, oauth.StoredRequest{Signature: sig, Kind: oauth.KindAccessToken, RequestID: "req",
			ClientID: "oc_x", Tenant: coditect.NewID[coditect.TenantID](), Data: []byte(`{}`), RequestedAt: time.Now(), ExpiresAt: exp, Active: true}))
	}
	w := &worker.OAuthPurgeWorker{Store: store, Log: slog.New(slog.DiscardHandler)}
	require.NoError(t, w.Work(ctx, nil))
	_, err := s.OAuthRequestGet(ctx, oauth.KindAccessToken, "expired")
	require.True(t, coditect.IsNotFound(err))
	for _, sig := range []string{"live", "forever"} {
		_, err := s.OAuthRequestGet(ctx, oauth.KindAccessToken, sig)
		require.NoError(t, err, sig)
	}
}
