package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/postgres"
)

const oauthRedirectURI = "http://127.0.0.1/callback"

// setupOAuth is the stack with the OAuth provider wired as cmd/coditect wires it (its
// issuer is the test server's URL, its keys the stack's signing keys, people sign in
// through identity), plus one test-only route that needs the member role, as writing
// work items does: POST /v1/orgs/{org}/test-work answers the actor and writes the
// audit row a change would.
func setupOAuth(t *testing.T) *stack {
	t.Helper()
	return newStack(t, func(s *stack, deps *Deps, base string) http.Handler {
		p, err := oauth.New(oauth.Config{Issuer: base, GlobalSecret: []byte("an OAuth secret of at least thirty-two bytes"),
			ExtraScopes: []string{oauth.ScopeAPIRead, oauth.ScopeAPIWrite}},
			postgres.OAuthStore{Store: s.store}, func() token.KeySet { return s.keys }, s.ids)
		require.NoError(t, err)
		deps.OAuth, deps.OAuthTokens, deps.OAuthClients = p.Handler(), p, p

		// NewServer with the test-only route.
		d := withDefaults(*deps)
		rt := newRouter()
		spec := &openAPISpec{}
		addRoutes(rt, d, spec)
		a := &access{identity: d.Identity, accounts: d.Accounts, oauthTokens: d.OAuthTokens, cookieSecure: d.CookieSecure}
		rt.handle("POST /v1/orgs/{org}/test-work", a.inOrg(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			actor, _ := actorOf(r)
			if err := coditect.Authorize(actor, coditect.ActWriteWork); err != nil {
				writeProblem(w, r, err)
				return
			}
			ctx := r.Context()
			err := s.store.InTx(ctx, func(tx *postgres.Tx) error {
				e := audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: actor.Kind, ActorID: actor.AuditActorID(),
					Action: "test.write", TargetType: "test", Changes: []byte(`{}`)}
				if info, ok := audit.InfoFrom(ctx); ok {
					e.IP, e.UserAgent = info.IP, info.UserAgent
				}
				return tx.AuditLogInsert(ctx, e)
			})
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"kind": actor.Kind, "role": actor.Role, "id": actor.ID(), "tenant_id": actor.Tenant})
		})), testOp("testWork"))
		require.NoError(t, spec.build(d.Version, rt.routes))
		return withMiddleware(d, newMetrics(d.Registerer), rt)
	})
}

// registerClient registers an OAuth client through the API and returns the answer's
// body: the client with its secret.
func (s *stack) registerClient(t *testing.T, by person, body map[string]any) (id, clientID, secret string) {
	t.Helper()
	res := s.do(t, "POST", "/v1/orgs/"+by.slug+"/oauth-clients", body, bearer(by.access))
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	s.requireSchema(t, "CreatedOAuthClient", res.body)
	m := res.json(t)
	sec, _ := m["client_secret"].(string)
	return m["id"].(string), m["client_id"].(string), sec
}

// clientToken gets a client-credentials access token from /oauth2/token on the stack.
func (s *stack) clientToken(t *testing.T, clientID, secret string, scopes ...string) string {
	t.Helper()
	conf := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: s.srv.URL + oauth.PathToken,
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := conf.Token(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.False(t, isJWT(tok.AccessToken), "the provider's tokens are opaque")
	return tok.AccessToken
}

func TestOAuthClientRegistration(t *testing.T) {
	t.Parallel()
	s := setupOAuth(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")
	vic := s.join(t, ann, "vic@example.test", coditect.RoleViewer)
	mem := s.join(t, ann, "mem@example.test", coditect.RoleMember)
	adm := s.join(t, ann, "adm@example.test", coditect.RoleAdmin)

	// An admin registers a confidential code-flow client: defaults filled in, the
	// secret shown once.
	res := s.do(t, "POST", "/v1/orgs/acme/oauth-clients", map[string]any{"name": "Dashboard", "redirect_uris": []string{oauthRedirectURI}}, bearer(adm.access))
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	s.requireSchema(t, "CreatedOAuthClient", res.body)
	code := res.json(t)
	require.True(t, strings.HasPrefix(code["client_secret"].(string), "ocs_"))
	require.True(t, strings.HasPrefix(code["client_id"].(string), "oc_"))
	require.Equal(t, ann.orgID, code["organization_id"])
	require.Equal(t, []any{"authorization_code", "refresh_token"}, code["grant_types"])
	require.Equal(t, []any{"openid", "profile", "email", "offline_access"}, code["scopes"])
	require.Nil(t, code["revoked_at"])
	require.NotEmpty(t, res.header.Get("ETag"))
	codeID := code["id"].(string)

	// A public client has no secret; a client-credentials client may ask for API scopes.
	_, _, secret := s.registerClient(t, ann, map[string]any{"name": "CLI", "redirect_uris": []string{"http://localhost/cb"}, "public": true})
	require.Empty(t, secret)
	ccID, _, ccSecret := s.registerClient(t, ann, map[string]any{"name": "Nightly sync", "grant_types": []string{"client_credentials"}, "scopes": []string{"api:read", "api:write"}})
	require.NotEmpty(t, ccSecret)

	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		for name, body := range map[string]map[string]any{
			"no name":               {"redirect_uris": []string{oauthRedirectURI}},
			"no redirect uri":       {"name": "x"},
			"http on a public host": {"name": "x", "redirect_uris": []string{"http://app.example/cb"}},
			"unknown grant":         {"name": "x", "redirect_uris": []string{oauthRedirectURI}, "grant_types": []string{"password"}},
			"unknown scope":         {"name": "x", "redirect_uris": []string{oauthRedirectURI}, "scopes": []string{"admin"}},
			"public client creds":   {"name": "x", "public": true, "grant_types": []string{"client_credentials"}},
		} {
			res := s.do(t, "POST", "/v1/orgs/acme/oauth-clients", body, bearer(ann.access))
			require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s: %s", name, res.body)
			res.problem(t, http.StatusUnprocessableEntity, "invalid")
		}
		res := s.do(t, "POST", "/v1/orgs/acme/oauth-clients", map[string]any{"name": "x", "client_secret": "mine"}, bearer(ann.access))
		res.problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Contains(t, string(res.body), `"field":"client_secret"`, "a client cannot choose its secret")
	})

	t.Run("admin or higher only", func(t *testing.T) {
		t.Parallel()
		for _, p := range []person{vic, mem} {
			s.do(t, "GET", "/v1/orgs/acme/oauth-clients", nil, bearer(p.access)).problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "POST", "/v1/orgs/acme/oauth-clients", map[string]any{"name": "x", "redirect_uris": []string{oauthRedirectURI}}, bearer(p.access)).
				problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "GET", "/v1/orgs/acme/oauth-clients/"+codeID, nil, bearer(p.access)).problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+codeID, nil, bearer(p.access)).problem(t, http.StatusForbidden, "forbidden")
		}
		s.do(t, "GET", "/v1/orgs/acme/oauth-clients", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("another organization is not found", func(t *testing.T) {
		t.Parallel()
		s.do(t, "GET", "/v1/orgs/acme/oauth-clients", nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "POST", "/v1/orgs/acme/oauth-clients", map[string]any{"name": "x", "redirect_uris": []string{oauthRedirectURI}}, bearer(bob.access)).
			problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/acme/oauth-clients/"+codeID, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+codeID, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		// Through bob's own organization: another tenant's client does not exist there.
		s.do(t, "GET", "/v1/orgs/globex/oauth-clients/"+codeID, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "DELETE", "/v1/orgs/globex/oauth-clients/"+codeID, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		list := s.do(t, "GET", "/v1/orgs/globex/oauth-clients", nil, bearer(bob.access))
		require.Equal(t, http.StatusOK, list.status)
		require.JSONEq(t, `{"data":[],"next_cursor":null}`, string(list.body))
		s.do(t, "GET", "/v1/orgs/acme/oauth-clients/not-an-id", nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/acme/oauth-clients/"+coditect.NewID[coditect.OAuthClientID]().String(), nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
	})

	t.Run("list pages and get", func(t *testing.T) { // before the parallel subtests add clients
		res := s.do(t, "GET", "/v1/orgs/acme/oauth-clients?limit=2", nil, bearer(adm.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		s.requireSchema(t, "OAuthClientPage", res.body)
		require.NotContains(t, string(res.body), "ocs_", "secrets are never listed")
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(res.body, &page))
		require.Len(t, page.Data, 2)
		require.Equal(t, codeID, page.Data[0].ID, "oldest first")
		require.NotNil(t, page.NextCursor)
		res = s.do(t, "GET", "/v1/orgs/acme/oauth-clients?limit=2&cursor="+url.QueryEscape(*page.NextCursor), nil, bearer(adm.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.NoError(t, json.Unmarshal(res.body, &page))
		require.Len(t, page.Data, 1)
		require.Equal(t, ccID, page.Data[0].ID)
		require.Nil(t, page.NextCursor)

		res = s.do(t, "GET", "/v1/orgs/acme/oauth-clients/"+ccID, nil, bearer(ann.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		s.requireSchema(t, "OAuthClient", res.body)
		require.NotContains(t, string(res.body), "secret")
		require.Equal(t, []any{"api:read", "api:write"}, res.json(t)["scopes"])
	})

	t.Run("revoke", func(t *testing.T) {
		t.Parallel()
		id, _, _ := s.registerClient(t, ann, map[string]any{"name": "Short-lived", "redirect_uris": []string{oauthRedirectURI}})
		got := s.do(t, "GET", "/v1/orgs/acme/oauth-clients/"+id, nil, bearer(ann.access))
		etag := got.header.Get("ETag")
		require.NotEmpty(t, etag)
		s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+id, nil, bearer(ann.access), withHeader("If-Match", `"stale"`)).
			problem(t, http.StatusPreconditionFailed, "precondition_failed")
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+id, nil, bearer(ann.access), withHeader("If-Match", etag)).status)
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+id, nil, bearer(ann.access)).status, "revoking twice is fine")
		got = s.do(t, "GET", "/v1/orgs/acme/oauth-clients/"+id, nil, bearer(ann.access))
		require.Equal(t, http.StatusOK, got.status)
		require.NotNil(t, got.json(t)["revoked_at"])
		require.NotEqual(t, etag, got.header.Get("ETag"), "revoking changes the ETag")
		require.Equal(t, 1, s.queryInt(t, `SELECT count(*) FROM audit_logs WHERE action = 'oauth_client.revoke' AND target_id = $1
			AND actor_type = 'account' AND actor_id = $2 AND ip = '127.0.0.1'`, id, ann.accountID))
	})

	require.Equal(t, 1, s.queryInt(t, `SELECT count(*) FROM audit_logs WHERE action = 'oauth_client.create' AND target_id = $1
		AND actor_type = 'account' AND actor_id = $2 AND user_agent = 'httpapi-test/1.0'`, codeID, adm.accountID))
}

func TestOAuthClientCredentialsAsAPICredentials(t *testing.T) {
	t.Parallel()
	s := setupOAuth(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")

	_, readClient, readSecret := s.registerClient(t, ann, map[string]any{"name": "Reporting",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"api:read"}})
	writeID, writeClient, writeSecret := s.registerClient(t, ann, map[string]any{"name": "Sync",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"api:read", "api:write"}})
	reader := s.clientToken(t, readClient, readSecret, "api:read")
	writer := s.clientToken(t, writeClient, writeSecret, "api:read", "api:write")
	readOnlyWriter := s.clientToken(t, writeClient, writeSecret, "api:read") // granted only what it asked for

	t.Run("its own organization, by slug or id", func(t *testing.T) {
		t.Parallel()
		for _, tok := range []string{reader, writer} {
			for _, org := range []string{"acme", ann.orgID} {
				res := s.do(t, "GET", "/v1/orgs/"+org, nil, bearer(tok))
				require.Equal(t, http.StatusOK, res.status, string(res.body))
				s.requireSchema(t, "Organization", res.body)
				require.Equal(t, ann.orgID, res.json(t)["id"])
			}
			require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(tok)).status)
		}
		mine := s.do(t, "GET", "/v1/orgs", nil, bearer(reader))
		require.Equal(t, http.StatusOK, mine.status, string(mine.body))
		s.requireSchema(t, "MyMembershipPage", mine.body)
		require.Contains(t, string(mine.body), `"role":"viewer"`)
		require.Contains(t, string(mine.body), ann.orgID)
	})

	t.Run("another organization is not found, as for an API key", func(t *testing.T) {
		t.Parallel()
		for _, tok := range []string{reader, writer} {
			a := s.do(t, "GET", "/v1/orgs/globex", nil, bearer(tok)).problem(t, http.StatusNotFound, "not_found")
			b := s.do(t, "GET", "/v1/orgs/no-such-org", nil, bearer(tok)).problem(t, http.StatusNotFound, "not_found")
			require.Equal(t, a.Detail, b.Detail)
			s.do(t, "GET", "/v1/orgs/"+bob.orgID, nil, bearer(tok)).problem(t, http.StatusNotFound, "not_found")
			s.do(t, "GET", "/v1/orgs/globex/members", nil, bearer(tok)).problem(t, http.StatusNotFound, "not_found")
			s.do(t, "POST", "/v1/orgs/globex/test-work", nil, bearer(tok)).problem(t, http.StatusNotFound, "not_found")
		}
	})

	t.Run("api:write does member things, not admin things", func(t *testing.T) {
		t.Parallel()
		res := s.do(t, "POST", "/v1/orgs/acme/test-work", nil, bearer(writer))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, map[string]any{"kind": "oauth_client", "role": "member", "id": writeID, "tenant_id": ann.orgID}, res.json(t))
		// The access log and the change's audit row name the client.
		logged := false
		for _, l := range s.logs.lines(t, "http request") {
			if l["route"] == "POST /v1/orgs/{org}/test-work" && l["oauth_client_id"] == writeID && l["tenant_id"] == ann.orgID {
				logged = true
			}
		}
		require.True(t, logged, "the access log names the OAuth client")
		require.Equal(t, 1, s.queryInt(t, `SELECT count(*) FROM audit_logs WHERE action = 'test.write' AND actor_type = 'oauth_client'
			AND actor_id = $1 AND tenant_id = $2 AND ip = '127.0.0.1'`, writeID, ann.orgID))

		for _, tok := range []string{reader, readOnlyWriter} {
			s.do(t, "POST", "/v1/orgs/acme/test-work", nil, bearer(tok)).problem(t, http.StatusForbidden, "forbidden")
		}
		for _, tok := range []string{reader, writer} {
			s.do(t, "GET", "/v1/orgs/acme/api-keys", nil, bearer(tok)).problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": "k", "role": "viewer"}, bearer(tok)).problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "GET", "/v1/orgs/acme/invitations", nil, bearer(tok)).problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "POST", "/v1/orgs/acme/invitations", map[string]any{"email": "x@example.test", "role": "viewer"}, bearer(tok)).
				problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "GET", "/v1/orgs/acme/oauth-clients", nil, bearer(tok)).problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "POST", "/v1/orgs/acme/oauth-clients", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}}, bearer(tok)).
				problem(t, http.StatusForbidden, "forbidden")
			s.do(t, "PATCH", "/v1/orgs/acme/members/"+ann.accountID, map[string]any{"role": "viewer"}, bearer(tok)).problem(t, http.StatusForbidden, "forbidden")
			// Not a person.
			s.do(t, "GET", "/v1/me", nil, bearer(tok)).problem(t, http.StatusForbidden, "auth.person_required")
			s.do(t, "POST", "/v1/orgs", map[string]any{"name": "Mine"}, bearer(tok)).problem(t, http.StatusForbidden, "auth.person_required")
		}
	})

	t.Run("bad and revoked tokens are 401", func(t *testing.T) {
		t.Parallel()
		for name, tok := range map[string]string{"garbage": "ory_at_nope.nope", "tampered": reader[:len(reader)-4] + "AAAA", "empty signature": "ory_at_x."} {
			res := s.do(t, "GET", "/v1/orgs/acme", nil, bearer(tok))
			require.Equal(t, http.StatusUnauthorized, res.status, "%s: %s", name, res.body)
			require.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token"`, name)
		}

		goneID, goneClient, goneSecret := s.registerClient(t, ann, map[string]any{"name": "To revoke",
			"grant_types": []string{"client_credentials"}, "scopes": []string{"api:read"}})
		tok := s.clientToken(t, goneClient, goneSecret, "api:read")
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme", nil, bearer(tok)).status)
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+goneID, nil, bearer(ann.access)).status)
		res := s.do(t, "GET", "/v1/orgs/acme", nil, bearer(tok))
		res.problem(t, http.StatusUnauthorized, "unauthenticated")
		require.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token"`)
		s.do(t, "GET", "/v1/orgs", nil, bearer(tok)).problem(t, http.StatusUnauthorized, "unauthenticated")
		// The other clients are untouched.
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme", nil, bearer(writer)).status)
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme", nil, bearer(reader)).status)
	})
}

var (
	formToken  = regexp.MustCompile(`name="token" value="([^"]+)"`)
	formTarget = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// oauthPage is a sign-in or consent page the provider rendered.
type oauthPage struct {
	status        int
	body          string
	action, token string
}

// oauthBrowser is a user agent with cookies that stops at redirects.
func oauthBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *stack) readOAuthPage(t *testing.T, resp *http.Response) oauthPage {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := oauthPage{status: resp.StatusCode, body: string(b)}
	if m := formToken.FindStringSubmatch(p.body); m != nil {
		p.token = html.UnescapeString(m[1])
	}
	if m := formTarget.FindStringSubmatch(p.body); m != nil {
		p.action = s.srv.URL + html.UnescapeString(m[1])
	}
	return p
}

// signIn posts the provider's sign-in form.
func (s *stack) signIn(t *testing.T, b *http.Client, login oauthPage, email, password, code string) oauthPage {
	t.Helper()
	resp, err := b.PostForm(login.action, url.Values{"step": {"login"}, "token": {login.token}, "email": {email},
		"password": {password}, "totp_code": {code}})
	require.NoError(t, err)
	return s.readOAuthPage(t, resp)
}

// userToken runs the authorization code flow with PKCE for email through the
// provider's forms and returns the access token.
func (s *stack) userToken(t *testing.T, conf *oauth2.Config, email string) string {
	t.Helper()
	b := oauthBrowser(t)
	verifier, state := oauth2.GenerateVerifier(), rand.Text()
	resp, err := b.Get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	require.NoError(t, err)
	login := s.readOAuthPage(t, resp)
	require.Equal(t, http.StatusOK, login.status, login.body)
	consent := s.signIn(t, b, login, email, testPassword, "")
	require.Equal(t, http.StatusOK, consent.status, consent.body)
	resp, err = b.PostForm(consent.action, url.Values{"step": {"consent"}, "token": {consent.token}, "decision": {"approve"}})
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, state, loc.Query().Get("state"))
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	return tok.AccessToken
}

func TestOAuthUserTokensAsAPICredentials(t *testing.T) {
	t.Parallel()
	s := setupOAuth(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")
	s.join(t, ann, "vic@example.test", coditect.RoleViewer)

	// Discovery points at the JWKS httpapi serves, from the keys that sign everything.
	res := s.do(t, "GET", oauth.PathDiscovery, nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, s.srv.URL, res.json(t)["issuer"])
	require.Equal(t, s.srv.URL+"/.well-known/jwks.json", res.json(t)["jwks_uri"])
	require.Contains(t, res.json(t)["scopes_supported"], "api:write")
	jwks := s.do(t, "GET", "/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, jwks.status)
	require.Contains(t, string(jwks.body), s.keys.Current().ID)

	id, clientID, secret := s.registerClient(t, ann, map[string]any{"name": "Dashboard", "redirect_uris": []string{oauthRedirectURI},
		"scopes": []string{"openid", "email", "profile", "api:read", "api:write"}})
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: oauthRedirectURI, Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: s.srv.URL + oauth.PathAuthorize, TokenURL: s.srv.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}

	// A token the person approved only for signing in ("openid email") reaches no
	// organization, and no application's token can manage the account itself.
	signIn := s.userToken(t, conf, "vic@example.test")
	s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(signIn)).problem(t, http.StatusForbidden, "auth.insufficient_scope")
	s.do(t, "GET", "/v1/me", nil, bearer(signIn)).problem(t, http.StatusForbidden, "auth.person_required")
	s.do(t, "POST", "/v1/me/mfa/totp", nil, bearer(signIn)).problem(t, http.StatusForbidden, "auth.person_required")

	// With api:read the token acts as the person, in every organization they belong to,
	// whichever organization registered the client — at most as a viewer.
	readConf := *conf
	readConf.Scopes = []string{"openid", "api:read"}
	vicTok := s.userToken(t, &readConf, "vic@example.test")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(vicTok)).status)
	s.do(t, "POST", "/v1/orgs/acme/test-work", nil, bearer(vicTok)).problem(t, http.StatusForbidden, "forbidden")
	s.do(t, "GET", "/v1/orgs/globex", nil, bearer(vicTok)).problem(t, http.StatusNotFound, "not_found")

	// With api:write an owner's token acts as a member, never more.
	writeConf := *conf
	writeConf.Scopes = []string{"openid", "api:write"}
	bobTok := s.userToken(t, &writeConf, "bob@example.test")
	res = s.do(t, "POST", "/v1/orgs/globex/test-work", nil, bearer(bobTok))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, map[string]any{"kind": "account", "role": "member", "id": bob.accountID, "tenant_id": bob.orgID}, res.json(t))
	s.do(t, "GET", "/v1/orgs/globex/api-keys", nil, bearer(bobTok)).problem(t, http.StatusForbidden, "forbidden")
	s.do(t, "GET", "/v1/orgs/acme", nil, bearer(bobTok)).problem(t, http.StatusNotFound, "not_found")
	// An application's token cannot end the person's sessions (it has none of its own).
	s.do(t, "POST", "/v1/auth/logout", nil, bearer(bobTok)).problem(t, http.StatusForbidden, "auth.person_required")

	// Revoking the client ends its users' tokens.
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/oauth-clients/"+id, nil, bearer(ann.access)).status)
	s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(vicTok)).problem(t, http.StatusUnauthorized, "unauthenticated")
}

// TestOAuthSignInSharesLoginThrottle checks the provider's sign-in form is the same
// credential check as POST /v1/auth/login: failures on either count for both.
func TestOAuthSignInSharesLoginThrottle(t *testing.T) {
	t.Parallel()
	s := setupOAuth(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	_, clientID, secret := s.registerClient(t, ann, map[string]any{"name": "Dashboard", "redirect_uris": []string{oauthRedirectURI}})
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: oauthRedirectURI, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: s.srv.URL + oauth.PathAuthorize, TokenURL: s.srv.URL + oauth.PathToken}}

	b := oauthBrowser(t)
	resp, err := b.Get(conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	require.NoError(t, err)
	page := s.readOAuthPage(t, resp)
	require.Contains(t, page.body, `name="totp_code"`)
	// Unknown email and wrong password: the same page.
	unknown := s.signIn(t, b, page, "nobody@example.test", testPassword, "")
	require.Equal(t, http.StatusUnauthorized, unknown.status)
	require.Contains(t, unknown.body, "Wrong email or password.")
	page = unknown
	for range 10 {
		page = s.signIn(t, b, page, "ann@example.test", "not the password", "")
		if page.status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, page.status)
		require.Contains(t, page.body, "Wrong email or password.")
	}
	// The account is now throttled everywhere, even with the right password.
	page = s.signIn(t, b, page, "ann@example.test", testPassword, "")
	require.Equal(t, http.StatusTooManyRequests, page.status)
	require.NotContains(t, page.body, `value="consent"`)
	res := s.login(t, "ann@example.test", testPassword)
	res.problem(t, http.StatusTooManyRequests, "auth.throttled")
}
