package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAccessRoutesWithoutServices(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	h := NewServer(deps)
	requireProblem(t, do(t, h, "POST", "/v1/signup", nil), http.StatusServiceUnavailable, "unavailable")
	requireProblem(t, do(t, h, "GET", "/v1/me", nil), http.StatusServiceUnavailable, "unavailable")
	requireProblem(t, do(t, h, "GET", "/v1/orgs/acme/members", nil), http.StatusServiceUnavailable, "unavailable")
	requireProblem(t, do(t, h, "GET", "/.well-known/jwks.json", nil), http.StatusServiceUnavailable, "unavailable")
	// Without a provider, the OAuth endpoints are not there at all.
	requireProblem(t, do(t, h, "POST", "/oauth2/token", nil), http.StatusNotFound, "not_found")
}

func TestOAuthProviderIsMounted(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	var got []string
	deps.OAuth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	h := NewServer(deps)
	want := []string{
		"GET /.well-known/openid-configuration", "GET /oauth2/auth", "POST /oauth2/auth", "POST /oauth2/token",
		"POST /oauth2/revoke", "POST /oauth2/introspect", "GET /userinfo", "POST /userinfo",
	}
	for _, w := range want {
		method, path, _ := strings.Cut(w, " ")
		require.Equal(t, http.StatusTeapot, do(t, h, method, path, nil, "Authorization", "Basic Y2xpZW50OnNlY3JldA==").Code, w)
	}
	require.Equal(t, want, got, "passed through untouched, client authentication included")
	requireProblem(t, do(t, h, "GET", "/oauth2/nope", nil), http.StatusNotFound, "not_found")
	// JWKS stays ours.
	requireProblem(t, do(t, h, "GET", "/.well-known/jwks.json", nil), http.StatusServiceUnavailable, "unavailable")

	rec := do(t, h, "GET", "/v1/openapi.json", nil)
	require.NoError(t, compileOpenAPIMetaSchema(t).Validate(unmarshalInstance(t, rec.Body.Bytes())))
	require.Contains(t, rec.Body.String(), `"/oauth2/token"`)
}

// TestOpenAPIDocumentsAccess checks that each route's security and access answers
// come from its wrapper.
func TestOpenAPIDocumentsAccess(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(servedOpenAPI(t), &doc))
	require.Contains(t, doc.Components.SecuritySchemes, "bearerAuth")
	require.Contains(t, doc.Components.SecuritySchemes, "sessionCookie")

	signup := doc.Paths["/v1/signup"]["post"]
	require.Nil(t, signup.Security)
	require.NotContains(t, signup.Responses, "401")
	for _, r := range []string{"201", "400", "409", "413", "422", "500", "503"} {
		require.Contains(t, signup.Responses, r)
	}

	me := doc.Paths["/v1/me"]["get"]
	require.Equal(t, []map[string][]string{{"bearerAuth": {}}, {"sessionCookie": {}}}, me.Security)
	require.Contains(t, me.Responses, "401")
	require.Contains(t, me.Responses, "403")

	members := doc.Paths["/v1/orgs/{org}/members"]["get"]
	require.Contains(t, members.Responses, "404")

	accept := doc.Paths["/v1/invitations/{token}/accept"]["post"]
	require.Equal(t, map[string][]string{}, accept.Security[0], "signing in is optional")
}
