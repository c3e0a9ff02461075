package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/token"
)

func TestSignup(t *testing.T) {
	t.Parallel()
	s := setup(t)

	res := s.do(t, "POST", "/v1/signup", map[string]any{"email": "  Ann@Example.test ", "password": testPassword, "name": "Ann",
		"organization_name": "Acme Inc", "organization_slug": "acme"})
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	require.Equal(t, "no-store", res.header.Get("Cache-Control"))
	s.requireSchema(t, "SignupResult", res.body)
	body := res.json(t)
	acc := body["account"].(map[string]any)
	require.Equal(t, "ann@example.test", acc["email"])
	require.Equal(t, "Ann", acc["name"])
	require.Nil(t, acc["email_verified_at"])
	created, err := time.Parse(time.RFC3339Nano, acc["created_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), created, time.Hour, "the stored creation time, not a zero one")
	require.NotContains(t, acc, "password_hash")
	require.NotContains(t, string(res.body), "argon2")
	org := body["organization"].(map[string]any)
	require.Equal(t, "acme", org["slug"])
	require.Equal(t, "Acme Inc", org["name"])
	require.Equal(t, "acme."+testBaseDomain, org["domain"])
	require.Equal(t, "Bearer", body["token_type"])
	require.EqualValues(t, 900, body["expires_in"])
	require.NotContains(t, body, "csrf_token")
	require.Nil(t, res.cookie(cookieSession), "no cookie unless asked for")

	// The tokens work: the account sees its organization as owner.
	me := s.do(t, "GET", "/v1/me", nil, bearer(body["access_token"].(string)))
	require.Equal(t, http.StatusOK, me.status, string(me.body))
	s.requireSchema(t, "Me", me.body)
	var meBody struct {
		Memberships []struct {
			Organization struct{ ID, Slug string }
			Role         string
		}
	}
	require.NoError(t, json.Unmarshal(me.body, &meBody))
	require.Len(t, meBody.Memberships, 1)
	require.Equal(t, org["id"], meBody.Memberships[0].Organization.ID)
	require.Equal(t, "owner", meBody.Memberships[0].Role)

	t.Run("duplicate email", func(t *testing.T) {
		t.Parallel()
		res := s.do(t, "POST", "/v1/signup", map[string]any{"email": "ann@example.test", "password": testPassword, "name": "Ann 2",
			"organization_name": "Other", "organization_slug": "other-org"})
		res.problem(t, http.StatusConflict, "account.email_taken")
	})
	t.Run("duplicate slug", func(t *testing.T) {
		t.Parallel()
		res := s.do(t, "POST", "/v1/signup", map[string]any{"email": "bob@example.test", "password": testPassword, "name": "Bob",
			"organization_name": "Acme", "organization_slug": "acme"})
		res.problem(t, http.StatusConflict, "organization.slug_taken")
	})
	t.Run("invalid fields", func(t *testing.T) {
		t.Parallel()
		res := s.do(t, "POST", "/v1/signup", map[string]any{"email": "not an email", "password": "short", "name": "X",
			"organization_name": "X", "session": "jar"})
		p := res.problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, "session", p.Errors[0].Field)
		res = s.do(t, "POST", "/v1/signup", map[string]any{"email": "not an email", "password": "short", "name": "X", "organization_name": "X"})
		p = res.problem(t, http.StatusUnprocessableEntity, "invalid")
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field)
		}
		require.ElementsMatch(t, []string{"email", "password", "organization_slug"}, fields, "every bad field at once (\"X\" makes the slug \"x\", too short)")
	})
	t.Run("malformed JSON", func(t *testing.T) {
		t.Parallel()
		s.do(t, "POST", "/v1/signup", `{"email": "x@example.test",`).problem(t, http.StatusBadRequest, "malformed")
		s.do(t, "POST", "/v1/signup", ``).problem(t, http.StatusBadRequest, "malformed")
		s.do(t, "POST", "/v1/signup", `[]`).problem(t, http.StatusBadRequest, "malformed")
	})
	t.Run("unknown field", func(t *testing.T) {
		t.Parallel()
		p := s.do(t, "POST", "/v1/signup", map[string]any{"email": "c@example.test", "password": testPassword, "name": "C",
			"organization_name": "C org", "role": "owner"}).problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, "role", p.Errors[0].Field)
	})
	t.Run("oversized body", func(t *testing.T) {
		t.Parallel()
		big := `{"email": "d@example.test", "name": "` + strings.Repeat("x", 2<<20) + `"}`
		s.do(t, "POST", "/v1/signup", big).problem(t, http.StatusRequestEntityTooLarge, "too_large")
	})
	t.Run("metacharacters are data", func(t *testing.T) {
		t.Parallel()
		name := `Robert'); DROP TABLE accounts;-- <script>alert("x")</script> & "quotes" \ ü`
		res := s.do(t, "POST", "/v1/signup", map[string]any{"email": "robert@example.test", "password": testPassword, "name": name,
			"organization_name": name, "organization_slug": "bobby-tables"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		require.NotContains(t, string(res.body), "<script>", "JSON-escaped, never raw HTML")
		body := res.json(t)
		require.Equal(t, name, body["account"].(map[string]any)["name"])
		require.Equal(t, name, body["organization"].(map[string]any)["name"])
		got := s.do(t, "GET", "/v1/orgs/bobby-tables", nil, bearer(body["access_token"].(string)))
		require.Equal(t, http.StatusOK, got.status, string(got.body))
		require.Equal(t, name, got.json(t)["name"])
		// And the tables are all still there.
		require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM accounts WHERE email = 'ann@example.test'"))
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.signup(t, "ann@example.test", "Acme", "acme")

	res := s.login(t, "ANN@example.test", testPassword)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "Tokens", res.body)
	require.Equal(t, "no-store", res.header.Get("Cache-Control"))
	me := s.do(t, "GET", "/v1/me", nil, bearer(res.json(t)["access_token"].(string)))
	require.Equal(t, http.StatusOK, me.status)

	// Unknown email and wrong password: the same answer but for the request id.
	wrong := s.login(t, "ann@example.test", "not the password at all")
	unknown := s.login(t, "nobody@example.test", "not the password at all")
	pw := wrong.problem(t, http.StatusUnauthorized, "auth.invalid_credentials")
	pu := unknown.problem(t, http.StatusUnauthorized, "auth.invalid_credentials")
	require.NotEqual(t, pw.RequestID, pu.RequestID)
	pw.RequestID, pu.RequestID = "", ""
	require.Equal(t, pw, pu)
	require.Equal(t, wrong.header.Get("WWW-Authenticate"), unknown.header.Get("WWW-Authenticate"))
	require.Contains(t, wrong.header.Get("WWW-Authenticate"), "Bearer")

	s.do(t, "POST", "/v1/auth/login", map[string]any{"email": "ann@example.test", "password": testPassword, "remember": true}).
		problem(t, http.StatusUnprocessableEntity, "invalid")

	t.Run("brute force is throttled", func(t *testing.T) {
		t.Parallel()
		s.signup(t, "victim@example.test", "Victim", "victim")
		var last answer
		for i := 0; i < 12; i++ {
			last = s.login(t, "victim@example.test", fmt.Sprintf("guess number %d", i))
			if last.status == http.StatusTooManyRequests {
				break
			}
			last.problem(t, http.StatusUnauthorized, "auth.invalid_credentials")
		}
		last.problem(t, http.StatusTooManyRequests, "auth.throttled")
		secs := last.header.Get("Retry-After")
		require.Regexp(t, `^[1-9][0-9]*$`, secs)
		// Even the right password waits now.
		s.login(t, "victim@example.test", testPassword).problem(t, http.StatusTooManyRequests, "auth.throttled")
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")

	first := s.do(t, "POST", "/v1/auth/refresh", map[string]any{"refresh_token": ann.refresh})
	require.Equal(t, http.StatusOK, first.status, string(first.body))
	s.requireSchema(t, "Tokens", first.body)
	pair := first.json(t)
	require.NotEqual(t, ann.refresh, pair["refresh_token"])
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, bearer(pair["access_token"].(string))).status)

	// The same refresh token again: reuse. The whole family dies, the new pair too.
	s.do(t, "POST", "/v1/auth/refresh", map[string]any{"refresh_token": ann.refresh}).problem(t, http.StatusUnauthorized, "auth.refresh_reused")
	s.do(t, "POST", "/v1/auth/refresh", map[string]any{"refresh_token": pair["refresh_token"]}).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	s.do(t, "GET", "/v1/me", nil, bearer(pair["access_token"].(string))).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).problem(t, http.StatusUnauthorized, "auth.token_invalid")

	s.do(t, "POST", "/v1/auth/refresh", map[string]any{"refresh_token": "rt_garbage"}).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	s.do(t, "POST", "/v1/auth/refresh", map[string]any{}).problem(t, http.StatusUnauthorized, "auth.token_invalid")
}

func TestBearerTokensThatMustFail(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	sub := coditect.MustParseID[coditect.AccountID](ann.accountID)

	// Signed by the right key, but two hours ago: expired.
	old, err := token.NewIssuer(func() token.KeySet { return s.keys }, testBaseURL, 15*time.Minute, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	require.NoError(t, err)
	expired, _, err := old.Issue(sub, coditect.SessionID{})
	require.NoError(t, err)

	// The right kid, another key.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	forgedKeys, err := token.NewKeySet(token.Key{ID: s.keys.Current().ID, Private: other})
	require.NoError(t, err)
	forger, err := token.NewIssuer(func() token.KeySet { return forgedKeys }, testBaseURL, 15*time.Minute, nil)
	require.NoError(t, err)
	wrongKey, _, err := forger.Issue(sub, coditect.SessionID{})
	require.NoError(t, err)

	// A payload edited after signing.
	parts := strings.Split(ann.access, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	claims["sub"] = coditect.NewID[coditect.AccountID]().String()
	edited, err := json.Marshal(claims)
	require.NoError(t, err)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(edited) + "." + parts[2]

	// alg none, with and without a signature part.
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + s.keys.Current().ID + `"}`))
	none := hdr + "." + parts[1] + "."
	noneSig := hdr + "." + parts[1] + ".c2ln"

	for name, tok := range map[string]string{
		"expired": expired, "wrong key": wrongKey, "tampered": tampered, "alg none": none, "alg none signed": noneSig,
		"garbage": "not-a-token", "refresh token as access token": ann.refresh, "api key shaped": "cdk_aaaaaaaaaaaa_" + strings.Repeat("A", 43),
	} {
		res := s.do(t, "GET", "/v1/me", nil, bearer(tok))
		require.Equal(t, http.StatusUnauthorized, res.status, "%s: %s", name, res.body)
		require.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token"`, name)
		require.Equal(t, "application/problem+json", res.header.Get("Content-Type"), name)
	}
	// The genuine token still works.
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).status)

	// No credentials, or a header that is not Bearer.
	res := s.do(t, "GET", "/v1/me", nil)
	res.problem(t, http.StatusUnauthorized, "unauthenticated")
	require.Equal(t, `Bearer realm="coditect"`, res.header.Get("WWW-Authenticate"))
	res = s.do(t, "GET", "/v1/me", nil, withHeader("Authorization", "Basic YTpi"))
	res.problem(t, http.StatusUnauthorized, "unauthenticated")
	require.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_request"`)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	other := s.accessToken(t, "ann@example.test") // a second session

	res := s.do(t, "POST", "/v1/auth/logout", nil, bearer(ann.access))
	require.Equal(t, http.StatusNoContent, res.status, string(res.body))
	require.Empty(t, res.body)
	require.Equal(t, -1, res.cookie(cookieSession).MaxAge)

	s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	s.do(t, "POST", "/v1/auth/refresh", map[string]any{"refresh_token": ann.refresh}).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, bearer(other)).status, "only that session ends")
}

func TestCookieSessionAndCSRF(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.signup(t, "ann@example.test", "Acme", "acme")

	res := s.login(t, "ann@example.test", testPassword, map[string]any{"session": "cookie"})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "Tokens", res.body)
	csrf := res.json(t)["csrf_token"].(string)
	require.NotEmpty(t, csrf)
	session, csrfCookie := res.cookie(cookieSession), res.cookie(cookieCSRF)
	require.NotNil(t, session)
	require.NotNil(t, csrfCookie)
	require.True(t, session.HttpOnly)
	require.False(t, csrfCookie.HttpOnly, "the web app reads it")
	for _, c := range []string{cookieSession, cookieCSRF} {
		raw := ""
		for _, sc := range res.header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, c+"=") {
				raw = sc
			}
		}
		require.Contains(t, raw, "Path=/")
		require.Contains(t, raw, "Secure")
		require.Contains(t, raw, "SameSite=Lax")
		require.Contains(t, raw, "Expires=")
	}
	require.Equal(t, csrf, csrfCookie.Value)
	require.WithinDuration(t, time.Now().Add(30*24*time.Hour), session.Expires, time.Hour)

	// Only a JSON request may start a cookie session (no cross-site form can send one).
	s.do(t, "POST", "/v1/auth/login", `{"email":"ann@example.test","session":"cookie","password":"`+testPassword+`"}`,
		withHeader("Content-Type", "text/plain")).problem(t, http.StatusBadRequest, "malformed")

	cookies := withCookies(session, csrfCookie)
	// Safe methods need no CSRF header.
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, cookies).status)
	// Unsafe ones do.
	create := map[string]any{"name": "Second org", "slug": "second"}
	s.do(t, "POST", "/v1/orgs", create, cookies).problem(t, http.StatusForbidden, "auth.csrf_failed")
	s.do(t, "POST", "/v1/orgs", create, cookies, withHeader(headerCSRF, "forged")).problem(t, http.StatusForbidden, "auth.csrf_failed")
	res = s.do(t, "POST", "/v1/orgs", create, cookies, withHeader(headerCSRF, csrf))
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	s.requireSchema(t, "Organization", res.body)
	require.Equal(t, "second."+testBaseDomain, res.json(t)["domain"])
	// Another session's CSRF token does not fit this session.
	other := s.login(t, "ann@example.test", testPassword, map[string]any{"session": "cookie"})
	s.do(t, "POST", "/v1/orgs", map[string]any{"name": "Third"}, cookies, withHeader(headerCSRF, other.json(t)["csrf_token"].(string))).
		problem(t, http.StatusForbidden, "auth.csrf_failed")

	// Logging out needs the header too, then clears both cookies.
	s.do(t, "POST", "/v1/auth/logout", nil, cookies).problem(t, http.StatusForbidden, "auth.csrf_failed")
	res = s.do(t, "POST", "/v1/auth/logout", nil, cookies, withHeader(headerCSRF, csrf))
	require.Equal(t, http.StatusNoContent, res.status)
	require.Equal(t, -1, res.cookie(cookieSession).MaxAge)
	require.Equal(t, -1, res.cookie(cookieCSRF).MaxAge)
	// The dead cookie is refused, and the answer clears it.
	res = s.do(t, "GET", "/v1/me", nil, cookies)
	res.problem(t, http.StatusUnauthorized, "auth.token_invalid")
	require.Equal(t, -1, res.cookie(cookieSession).MaxAge)
	// A bearer token wins over a cookie.
	tok := s.accessToken(t, "ann@example.test")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, cookies, bearer(tok)).status)
}

func TestTenantAccess(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")
	vic := s.join(t, ann, "vic@example.test", coditect.RoleViewer)
	adm := s.join(t, ann, "adm@example.test", coditect.RoleAdmin)

	t.Run("another organization is not found", func(t *testing.T) {
		t.Parallel()
		for _, org := range []string{bob.slug, bob.orgID, "GLOBEX", "no-such-org", coditect.NewID[coditect.TenantID]().String(), "x", "%20"} {
			for _, path := range []string{"", "/members", "/invitations", "/api-keys"} {
				res := s.do(t, "GET", "/v1/orgs/"+org+path, nil, bearer(ann.access))
				require.Equal(t, http.StatusNotFound, res.status, "%s%s: %s", org, path, res.body)
			}
		}
		s.do(t, "POST", "/v1/orgs/"+bob.slug+"/invitations", map[string]any{"email": "x@example.test", "role": "viewer"}, bearer(ann.access)).
			problem(t, http.StatusNotFound, "not_found")
		// The same answer as for an org that does not exist at all.
		a := s.do(t, "GET", "/v1/orgs/globex", nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
		b := s.do(t, "GET", "/v1/orgs/initech", nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
		require.Equal(t, a.Detail, b.Detail)
		// By slug or id, and the slug case-insensitively, for a member.
		for _, org := range []string{ann.slug, ann.orgID, "ACME"} {
			res := s.do(t, "GET", "/v1/orgs/"+org, nil, bearer(ann.access))
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			s.requireSchema(t, "Organization", res.body)
			require.Equal(t, ann.orgID, res.json(t)["id"])
			require.Equal(t, "acme."+testBaseDomain, res.json(t)["domain"])
		}
	})

	t.Run("a viewer reads but does not administer", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(vic.access)).status)
		s.do(t, "GET", "/v1/orgs/acme/invitations", nil, bearer(vic.access)).problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "POST", "/v1/orgs/acme/invitations", map[string]any{"email": "z@example.test", "role": "viewer"}, bearer(vic.access)).
			problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "GET", "/v1/orgs/acme/api-keys", nil, bearer(vic.access)).problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": "k", "role": "viewer"}, bearer(vic.access)).
			problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "PATCH", "/v1/orgs/acme/members/"+vic.accountID, map[string]any{"role": "owner"}, bearer(vic.access)).
			problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "DELETE", "/v1/orgs/acme/members/"+ann.accountID, nil, bearer(vic.access)).problem(t, http.StatusForbidden, "forbidden")
	})

	t.Run("an admin cannot create owners or keys above their role", func(t *testing.T) {
		t.Parallel()
		s.do(t, "POST", "/v1/orgs/acme/invitations", map[string]any{"email": "o@example.test", "role": "owner"}, bearer(adm.access)).
			problem(t, http.StatusForbidden, "invitation.role_too_high")
		s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": "k", "role": "owner"}, bearer(adm.access)).
			problem(t, http.StatusForbidden, "api_keys.role_too_high")
		s.do(t, "PATCH", "/v1/orgs/acme/members/"+ann.accountID, map[string]any{"role": "viewer"}, bearer(adm.access)).
			problem(t, http.StatusForbidden, "forbidden")
	})

	t.Run("API keys act in their own organization with their role", func(t *testing.T) {
		t.Parallel()
		res := s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": "CI <read-only>", "role": "viewer"}, bearer(ann.access))
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		s.requireSchema(t, "CreatedAPIKey", res.body)
		key := res.json(t)["secret"].(string)
		keyID := res.json(t)["id"].(string)
		require.True(t, strings.HasPrefix(key, "cdk_"))

		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(key)).status)
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/"+ann.orgID, nil, bearer(key)).status)
		s.do(t, "GET", "/v1/orgs/acme/api-keys", nil, bearer(key)).problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": "escalate", "role": "admin"}, bearer(key)).
			problem(t, http.StatusForbidden, "forbidden")
		s.do(t, "GET", "/v1/orgs/globex/members", nil, bearer(key)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/"+bob.orgID, nil, bearer(key)).problem(t, http.StatusNotFound, "not_found")
		// Not a person.
		s.do(t, "GET", "/v1/me", nil, bearer(key)).problem(t, http.StatusForbidden, "auth.person_required")
		s.do(t, "POST", "/v1/orgs", map[string]any{"name": "Keyed"}, bearer(key)).problem(t, http.StatusForbidden, "auth.person_required")
		// Its own organization is "mine".
		mine := s.do(t, "GET", "/v1/orgs", nil, bearer(key))
		require.Equal(t, http.StatusOK, mine.status, string(mine.body))
		s.requireSchema(t, "MyMembershipPage", mine.body)
		require.Contains(t, string(mine.body), `"role":"viewer"`)
		require.Contains(t, string(mine.body), ann.orgID)

		// An admin key administers; revoking stops it at once.
		res = s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": "ops", "role": "admin"}, bearer(ann.access))
		require.Equal(t, http.StatusCreated, res.status)
		admin := res.json(t)["secret"].(string)
		list := s.do(t, "GET", "/v1/orgs/acme/api-keys", nil, bearer(admin))
		require.Equal(t, http.StatusOK, list.status, string(list.body))
		s.requireSchema(t, "APIKeyPage", list.body)
		require.NotContains(t, string(list.body), key[len("cdk_")+13:], "secrets are never listed")
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/api-keys/"+keyID, nil, bearer(admin)).status)
		s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(key)).problem(t, http.StatusUnauthorized, "auth.api_key_invalid")
		s.do(t, "DELETE", "/v1/orgs/acme/api-keys/not-an-id", nil, bearer(admin)).problem(t, http.StatusNotFound, "not_found")

		// The audit row of the key's creation names where it came from.
		require.Equal(t, 1, s.queryInt(t, `SELECT count(*) FROM audit_logs WHERE action = 'api_key.create' AND target_id = $1
			AND ip = '127.0.0.1' AND user_agent = 'httpapi-test/1.0'`, keyID))
	})

	t.Run("the last owner stays", func(t *testing.T) {
		t.Parallel()
		solo := s.signup(t, "solo@example.test", "Solo", "solo")
		s.do(t, "PATCH", "/v1/orgs/solo/members/"+solo.accountID, map[string]any{"role": "admin"}, bearer(solo.access)).
			problem(t, http.StatusConflict, "members.last_owner")
		s.do(t, "DELETE", "/v1/orgs/solo/members/"+solo.accountID, nil, bearer(solo.access)).
			problem(t, http.StatusConflict, "members.last_owner")
		s.do(t, "PATCH", "/v1/orgs/solo/members/"+solo.accountID, map[string]any{"role": "boss"}, bearer(solo.access)).
			problem(t, http.StatusUnprocessableEntity, "invalid")
		s.do(t, "PATCH", "/v1/orgs/solo/members/"+coditect.NewID[coditect.AccountID]().String(), map[string]any{"role": "admin"}, bearer(solo.access)).
			problem(t, http.StatusNotFound, "not_found")

		// With a second owner, the first may step down.
		co := s.join(t, solo, "co@example.test", coditect.RoleMember)
		res := s.do(t, "PATCH", "/v1/orgs/solo/members/"+co.accountID, map[string]any{"role": "owner"}, bearer(solo.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		s.requireSchema(t, "Membership", res.body)
		require.Equal(t, "owner", res.json(t)["role"])
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/solo/members/"+solo.accountID, nil, bearer(solo.access)).status)
		s.do(t, "GET", "/v1/orgs/solo", nil, bearer(solo.access)).problem(t, http.StatusNotFound, "not_found")
	})
}

func TestInvitations(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")

	tok := s.invite(t, ann, "bob@example.test", coditect.RoleMember)
	show := s.do(t, "GET", "/v1/invitations/"+tok, nil)
	require.Equal(t, http.StatusOK, show.status, string(show.body))
	s.requireSchema(t, "PendingInvitation", show.body)
	info := show.json(t)
	require.Equal(t, "bob@example.test", info["email"])
	require.Equal(t, "member", info["role"])
	require.Equal(t, "Acme", info["organization"].(map[string]any)["name"])

	// Someone else, signed in, cannot take it.
	carl := s.signup(t, "carl@example.test", "Initech", "initech")
	s.do(t, "POST", "/v1/invitations/"+tok+"/accept", nil, bearer(carl.access)).problem(t, http.StatusForbidden, "invitation.email_mismatch")

	// Bob joins.
	res := s.do(t, "POST", "/v1/invitations/"+tok+"/accept", nil, bearer(bob.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "AcceptedInvitation", res.body)
	require.Equal(t, "member", res.json(t)["role"])
	require.Equal(t, ann.orgID, res.json(t)["organization"].(map[string]any)["id"])
	require.NotContains(t, res.json(t), "access_token")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(bob.access)).status)
	mine := s.do(t, "GET", "/v1/orgs", nil, bearer(bob.access))
	s.requireSchema(t, "MyMembershipPage", mine.body)
	require.Len(t, mine.json(t)["data"], 2)

	// Used: gone.
	s.do(t, "POST", "/v1/invitations/"+tok+"/accept", nil, bearer(bob.access)).problem(t, http.StatusNotFound, "invitation.invalid")
	s.do(t, "GET", "/v1/invitations/"+tok, nil).problem(t, http.StatusNotFound, "invitation.invalid")
	s.do(t, "GET", "/v1/invitations/inv_nonsense", nil).problem(t, http.StatusNotFound, "invitation.invalid")
	s.do(t, "GET", "/v1/invitations/nonsense", nil).problem(t, http.StatusNotFound, "invitation.invalid")

	// The list shows it accepted; it never shows a token.
	list := s.do(t, "GET", "/v1/orgs/acme/invitations", nil, bearer(ann.access))
	require.Equal(t, http.StatusOK, list.status)
	s.requireSchema(t, "InvitationPage", list.body)
	require.Contains(t, string(list.body), bob.accountID)
	require.NotContains(t, string(list.body), tok)
	require.NotContains(t, s.logs.String(), tok, "the access log redacts tokens in paths")
	require.Contains(t, s.logs.String(), "/v1/invitations/REDACTED/accept")

	t.Run("revoked", func(t *testing.T) {
		t.Parallel()
		tok := s.invite(t, ann, "dora@example.test", coditect.RoleViewer)
		var id string
		for _, inv := range s.do(t, "GET", "/v1/orgs/acme/invitations?limit=200", nil, bearer(ann.access)).json(t)["data"].([]any) {
			if inv.(map[string]any)["email"] == "dora@example.test" {
				id = inv.(map[string]any)["id"].(string)
			}
		}
		require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/orgs/acme/invitations/"+id, nil, bearer(ann.access)).status)
		s.do(t, "GET", "/v1/invitations/"+tok, nil).problem(t, http.StatusNotFound, "invitation.invalid")
		s.do(t, "POST", "/v1/invitations/"+tok+"/accept", map[string]any{"name": "Dora", "password": testPassword}).
			problem(t, http.StatusNotFound, "invitation.invalid")
	})

	t.Run("new account", func(t *testing.T) {
		t.Parallel()
		tok := s.invite(t, ann, "erin@example.test", coditect.RoleAdmin)
		s.do(t, "POST", "/v1/invitations/"+tok+"/accept", map[string]any{"name": "Erin", "password": "short"}).
			problem(t, http.StatusUnprocessableEntity, "invalid")
		s.do(t, "POST", "/v1/invitations/"+tok+"/accept", map[string]any{"name": "Erin", "password": testPassword, "email": "x@example.test"}).
			problem(t, http.StatusUnprocessableEntity, "invalid")
		res := s.do(t, "POST", "/v1/invitations/"+tok+"/accept", map[string]any{"name": "Erin", "password": testPassword, "session": "cookie"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		s.requireSchema(t, "AcceptedInvitation", res.body)
		body := res.json(t)
		require.Equal(t, "erin@example.test", body["account"].(map[string]any)["email"])
		require.Equal(t, "admin", body["role"])
		require.NotEmpty(t, body["csrf_token"])
		require.NotNil(t, res.cookie(cookieSession))
		me := s.do(t, "GET", "/v1/me", nil, bearer(body["access_token"].(string)))
		require.Equal(t, http.StatusOK, me.status)
		require.Contains(t, string(me.body), `"role":"admin"`)
		require.Equal(t, http.StatusOK, s.login(t, "erin@example.test", testPassword).status)
	})

	t.Run("new account for a taken email", func(t *testing.T) {
		t.Parallel()
		s.signup(t, "fred@example.test", "Fred's", "freds")
		tok := s.invite(t, ann, "fred@example.test", coditect.RoleViewer)
		s.do(t, "POST", "/v1/invitations/"+tok+"/accept", map[string]any{"name": "Fred", "password": testPassword}).
			problem(t, http.StatusConflict, "account.email_taken")
	})

	t.Run("expired", func(t *testing.T) {
		// Not parallel with the others: it moves the services' clock.
		tok := s.invite(t, bob, "gina@example.test", coditect.RoleViewer)
		gina := s.signup(t, "gina@example.test", "Gina", "gina")
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/invitations/"+tok, nil).status)
		s.clock.Advance(8 * 24 * time.Hour)
		defer s.clock.Advance(-8 * 24 * time.Hour)
		s.do(t, "GET", "/v1/invitations/"+tok, nil).problem(t, http.StatusNotFound, "invitation.invalid")
		s.do(t, "POST", "/v1/invitations/"+tok+"/accept", nil, bearer(gina.access)).problem(t, http.StatusNotFound, "invitation.invalid")
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	second := s.accessToken(t, "ann@example.test")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")

	res := s.do(t, "GET", "/v1/me/sessions", nil, bearer(ann.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "SessionPage", res.body)
	var page struct {
		Data []struct {
			ID        string
			Current   bool
			UserAgent string `json:"user_agent"`
			IP        *string
		}
		NextCursor *string `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(res.body, &page))
	require.Len(t, page.Data, 2)
	require.Nil(t, page.NextCursor)
	require.True(t, page.Data[0].Current, "the sign-up session is the older one, and this request's")
	require.False(t, page.Data[1].Current)
	require.Equal(t, "httpapi-test/1.0", page.Data[0].UserAgent)
	require.Equal(t, "127.0.0.1", *page.Data[0].IP)

	// Paged.
	one := s.do(t, "GET", "/v1/me/sessions?limit=1", nil, bearer(ann.access)).json(t)
	require.Len(t, one["data"], 1)
	next := s.do(t, "GET", "/v1/me/sessions?limit=1&cursor="+one["next_cursor"].(string), nil, bearer(ann.access)).json(t)
	require.Len(t, next["data"], 1)
	require.Equal(t, page.Data[1].ID, next["data"].([]any)[0].(map[string]any)["id"])
	require.Nil(t, next["next_cursor"])

	// Another account's session is not found, and stays alive.
	bobSessions := s.do(t, "GET", "/v1/me/sessions", nil, bearer(bob.access)).json(t)["data"].([]any)
	bobSession := bobSessions[0].(map[string]any)["id"].(string)
	s.do(t, "DELETE", "/v1/me/sessions/"+bobSession, nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, bearer(bob.access)).status)
	s.do(t, "DELETE", "/v1/me/sessions/nope", nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")

	// Revoking the second session ends it.
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/me/sessions/"+page.Data[1].ID, nil, bearer(ann.access)).status)
	s.do(t, "GET", "/v1/me", nil, bearer(second)).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).status)
}

func TestMFA(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")

	res := s.do(t, "POST", "/v1/me/mfa/totp", nil, bearer(ann.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "MFAEnrollment", res.body)
	secret := res.json(t)["secret"].(string)
	require.Contains(t, res.json(t)["otpauth_url"], "otpauth://totp/")
	png, err := base64.StdEncoding.DecodeString(res.json(t)["qr_png"].(string))
	require.NoError(t, err)
	require.Equal(t, "\x89PNG", string(png[:4]))

	code := func() string {
		c, err := totp.GenerateCode(secret, s.clock.Now())
		require.NoError(t, err)
		return c
	}
	// A code that matches no step the server accepts now.
	wrongCode := func() string {
		valid := map[string]bool{}
		for d := -2; d <= 2; d++ {
			c, err := totp.GenerateCode(secret, s.clock.Now().Add(time.Duration(d)*30*time.Second))
			require.NoError(t, err)
			valid[c] = true
		}
		for i := 0; ; i++ {
			if c := fmt.Sprintf("%06d", i); !valid[c] {
				return c
			}
		}
	}

	s.do(t, "POST", "/v1/me/mfa/totp/verify", map[string]any{"code": wrongCode()}, bearer(ann.access)).problem(t, http.StatusUnauthorized, "auth.mfa_invalid")
	enrolCode := code()
	res = s.do(t, "POST", "/v1/me/mfa/totp/verify", map[string]any{"code": enrolCode}, bearer(ann.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "RecoveryCodes", res.body)
	var rc recoveryCodesBody
	require.NoError(t, json.Unmarshal(res.body, &rc))
	require.Len(t, rc.RecoveryCodes, 10)
	require.Contains(t, string(s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).body), `"mfa_enabled":true`)
	s.do(t, "POST", "/v1/me/mfa/totp", nil, bearer(ann.access)).problem(t, http.StatusConflict, "auth.mfa_already_enabled")

	s.login(t, "ann@example.test", testPassword).problem(t, http.StatusUnauthorized, "auth.mfa_required")
	s.login(t, "ann@example.test", testPassword, map[string]any{"totp_code": wrongCode()}).problem(t, http.StatusUnauthorized, "auth.mfa_invalid")
	s.login(t, "ann@example.test", testPassword, map[string]any{"totp_code": enrolCode}).problem(t, http.StatusUnauthorized, "auth.mfa_invalid")
	// A wrong password with a right code is still just wrong credentials.
	s.clock.Advance(30 * time.Second)
	fresh := code()
	s.login(t, "ann@example.test", "not the password!", map[string]any{"totp_code": fresh}).problem(t, http.StatusUnauthorized, "auth.invalid_credentials")
	res = s.login(t, "ann@example.test", testPassword, map[string]any{"totp_code": fresh})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.login(t, "ann@example.test", testPassword, map[string]any{"totp_code": fresh}).problem(t, http.StatusUnauthorized, "auth.mfa_invalid")

	// A recovery code works once.
	res = s.login(t, "ann@example.test", testPassword, map[string]any{"totp_code": rc.RecoveryCodes[0]})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.login(t, "ann@example.test", testPassword, map[string]any{"totp_code": rc.RecoveryCodes[0]}).problem(t, http.StatusUnauthorized, "auth.mfa_invalid")

	// Turning it off takes a code.
	s.do(t, "DELETE", "/v1/me/mfa/totp", map[string]any{"code": wrongCode()}, bearer(ann.access)).problem(t, http.StatusUnauthorized, "auth.mfa_invalid")
	s.do(t, "DELETE", "/v1/me/mfa/totp", nil, bearer(ann.access)).problem(t, http.StatusBadRequest, "malformed")
	s.clock.Advance(30 * time.Second)
	require.Equal(t, http.StatusNoContent, s.do(t, "DELETE", "/v1/me/mfa/totp", map[string]any{"code": code()}, bearer(ann.access)).status)
	require.Equal(t, http.StatusOK, s.login(t, "ann@example.test", testPassword).status)
}

func TestEmailVerificationAndPasswordReset(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	annID := coditect.MustParseID[coditect.AccountID](ann.accountID)
	jobs := func(kind string) int {
		return s.queryInt(t, "SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'account_id' = $2", kind, ann.accountID)
	}

	t.Run("verification", func(t *testing.T) {
		res := s.do(t, "POST", "/v1/me/email/verify", nil, bearer(ann.access))
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		require.Equal(t, 1, jobs("identity.verify_email"))
		// What the job does.
		require.NoError(t, s.ids.SendVerification(t.Context(), annID))
		tok := s.lastToken(t, "ann@example.test", "/verify-email")

		s.do(t, "POST", "/v1/auth/verify-email", map[string]any{"token": tok + "x"}).problem(t, http.StatusNotFound, "auth.token_invalid")
		require.Equal(t, http.StatusNoContent, s.do(t, "POST", "/v1/auth/verify-email", map[string]any{"token": tok}).status)
		s.do(t, "POST", "/v1/auth/verify-email", map[string]any{"token": tok}).problem(t, http.StatusNotFound, "auth.token_invalid")
		me := s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).json(t)
		require.NotNil(t, me["account"].(map[string]any)["email_verified_at"])
	})

	t.Run("password reset", func(t *testing.T) {
		// Known and unknown addresses get the same answer; only the known one gets mail.
		known := s.do(t, "POST", "/v1/auth/password-reset", map[string]any{"email": "ann@example.test"})
		unknown := s.do(t, "POST", "/v1/auth/password-reset", map[string]any{"email": "nobody@example.test"})
		require.Equal(t, http.StatusAccepted, known.status, string(known.body))
		require.Equal(t, known.status, unknown.status)
		require.Equal(t, known.body, unknown.body)
		require.Equal(t, 1, jobs("identity.password_reset"))
		require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM river_job WHERE kind = 'identity.password_reset'"))
		s.do(t, "POST", "/v1/auth/password-reset", map[string]any{"email": "nope"}).problem(t, http.StatusUnprocessableEntity, "invalid")

		require.NoError(t, s.ids.SendPasswordReset(t.Context(), annID))
		tok := s.lastToken(t, "ann@example.test", "/reset-password")
		const newPassword = "a brand new passphrase"
		s.do(t, "POST", "/v1/auth/password-reset/confirm", map[string]any{"token": tok, "password": "short"}).
			problem(t, http.StatusUnprocessableEntity, "invalid")
		s.do(t, "POST", "/v1/auth/password-reset/confirm", map[string]any{"token": "passwordreset_nope", "password": newPassword}).
			problem(t, http.StatusNotFound, "auth.token_invalid")
		require.Equal(t, http.StatusNoContent, s.do(t, "POST", "/v1/auth/password-reset/confirm", map[string]any{"token": tok, "password": newPassword}).status)
		s.do(t, "POST", "/v1/auth/password-reset/confirm", map[string]any{"token": tok, "password": newPassword}).
			problem(t, http.StatusNotFound, "auth.token_invalid")

		s.login(t, "ann@example.test", testPassword).problem(t, http.StatusUnauthorized, "auth.invalid_credentials")
		require.Equal(t, http.StatusOK, s.login(t, "ann@example.test", newPassword).status)
		s.do(t, "GET", "/v1/me", nil, bearer(ann.access)).problem(t, http.StatusUnauthorized, "auth.token_invalid")
	})
}

func TestListPages(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	for _, name := range []string{"one", "two", "three", "four", "five"} {
		res := s.do(t, "POST", "/v1/orgs/acme/api-keys", map[string]any{"name": name, "role": "viewer"}, bearer(ann.access))
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
	}

	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		res := s.do(t, "GET", "/v1/orgs/acme/api-keys?limit=2"+cursor, nil, bearer(ann.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		s.requireSchema(t, "APIKeyPage", res.body)
		var p page[map[string]any]
		require.NoError(t, json.Unmarshal(res.body, &p))
		for _, k := range p.Data {
			names = append(names, k["name"].(string))
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *p.NextCursor
	}
	require.Equal(t, []string{"one", "two", "three", "four", "five"}, names)

	all := s.do(t, "GET", "/v1/orgs/acme/api-keys", nil, bearer(ann.access)).json(t)
	require.Len(t, all["data"], 5)
	require.Nil(t, all["next_cursor"])
	exact := s.do(t, "GET", "/v1/orgs/acme/api-keys?limit=5", nil, bearer(ann.access)).json(t)
	require.Nil(t, exact["next_cursor"], "no phantom next page when the page is exactly full")

	first := s.do(t, "GET", "/v1/orgs/acme/api-keys?limit=1", nil, bearer(ann.access)).json(t)
	good := first["next_cursor"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(good)
	require.NoError(t, err)
	raw[3] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	for _, q := range []string{"limit=0", "limit=201", "limit=abc", "limit=", "limit=-1", "cursor=" + tampered, "cursor=", "cursor=" + good[:10]} {
		p := s.do(t, "GET", "/v1/orgs/acme/api-keys?"+q, nil, bearer(ann.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Contains(t, []string{"limit", "cursor"}, p.Errors[0].Field, q)
	}
	s.do(t, "GET", "/v1/orgs/acme/api-keys?cursor=%zz", nil, bearer(ann.access)).problem(t, http.StatusBadRequest, "malformed")
	// A cursor belongs to its list.
	s.do(t, "GET", "/v1/orgs/acme/members?cursor="+good, nil, bearer(ann.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme/api-keys?limit=200&cursor="+good, nil, bearer(ann.access)).status)

	members := s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(ann.access))
	s.requireSchema(t, "MembershipPage", members.body)
	list := members.json(t)["data"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "ann@example.test", list[0].(map[string]any)["email"], "a member list shows people")
	require.Equal(t, "Person ann@example.test", list[0].(map[string]any)["name"])

	t.Run("another organization's members are not in it", func(t *testing.T) {
		bob := s.signup(t, "bob@example.test", "Globex", "globex")
		body := string(s.do(t, "GET", "/v1/orgs/globex/members", nil, bearer(bob.access)).body)
		require.Contains(t, body, "bob@example.test")
		require.NotContains(t, body, "ann@example.test")
		s.do(t, "GET", "/v1/orgs/acme/members", nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
	})
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	res := s.do(t, "GET", "/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "public, max-age=300", res.header.Get("Cache-Control"))
	require.Equal(t, "application/json", res.header.Get("Content-Type"))
	s.requireSchema(t, "JWKS", res.body)
	require.NotContains(t, string(res.body), `"d"`, "no private key material")

	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(ann.access, ".")[0])
	require.NoError(t, err)
	var h struct{ Kid string }
	require.NoError(t, json.Unmarshal(hdr, &h))
	require.Contains(t, string(res.body), `"kid":"`+h.Kid+`"`, "the key that signs tokens is published")
}

func TestSecurityEvents(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")
	s.do(t, "POST", "/v1/auth/login", map[string]any{"email": "ann@example.test", "password": "wrong password 123"}).problem(t, http.StatusUnauthorized, "auth.invalid_credentials")
	s.accessToken(t, "ann@example.test")

	res := s.do(t, "GET", "/v1/me/security-events", nil, bearer(ann.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "SecurityEventPage", res.body)
	var page struct {
		Data []struct {
			Event     string
			IP        *string
			UserAgent string `json:"user_agent"`
		}
	}
	require.NoError(t, json.Unmarshal(res.body, &page))
	require.Len(t, page.Data, 2)
	require.Equal(t, "login.succeeded", page.Data[0].Event, "newest first")
	require.Equal(t, "login.failed", page.Data[1].Event)
	require.Equal(t, "127.0.0.1", *page.Data[0].IP)
	require.Equal(t, "httpapi-test/1.0", page.Data[0].UserAgent)
	require.Len(t, s.do(t, "GET", "/v1/me/security-events?limit=1", nil, bearer(ann.access)).json(t)["data"], 1)

	t.Run("other account sees nothing", func(t *testing.T) {
		require.Empty(t, s.do(t, "GET", "/v1/me/security-events", nil, bearer(bob.access)).json(t)["data"])
	})
}
