package httpapi

import (
	"net/http"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestUI(t *testing.T) {
	t.Parallel()
	const index = `<!doctype html><title>app</title>`
	deps, _, _ := testDeps()
	deps.UI = fstest.MapFS{
		"index.html":           {Data: []byte(index)},
		"assets/app-1a2b3c.js": {Data: []byte("console.log(1)")},
		"favicon.svg":          {Data: []byte("<svg/>")},
		".gitkeep":             {Data: nil},
		".vite/manifest.json":  {Data: []byte(`{"secret":"build metadata"}`)},
	}
	srv := NewServer(deps)

	t.Run("client routes get index.html, never cached", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/", "/login", "/orgs/acme/projects/123", "/invitations/accept?token=x", "/v1x"} {
			rec := do(t, srv, "GET", path, nil)
			require.Equal(t, http.StatusOK, rec.Code, path)
			require.Equal(t, index, rec.Body.String(), path)
			require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"), path)
			require.Contains(t, rec.Header().Get("Content-Type"), "text/html", path)
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'", path)
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
		}
	})
	t.Run("hashed assets are cached for a year", func(t *testing.T) {
		t.Parallel()
		rec := do(t, srv, "GET", "/assets/app-1a2b3c.js", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "console.log(1)", rec.Body.String())
		require.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
		require.Contains(t, rec.Header().Get("Content-Type"), "javascript")
	})
	t.Run("a missing asset is a 404, not the app", func(t *testing.T) {
		t.Parallel()
		rec := do(t, srv, "GET", "/assets/gone-000000.js", nil)
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	})
	t.Run("root files are served, dot files are not", func(t *testing.T) {
		t.Parallel()
		rec := do(t, srv, "GET", "/favicon.svg", nil)
		require.Equal(t, "<svg/>", rec.Body.String())
		require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
		rec = do(t, srv, "GET", "/.gitkeep", nil)
		require.Equal(t, index, rec.Body.String())
		rec = do(t, srv, "GET", "/.vite/manifest.json", nil)
		require.Equal(t, index, rec.Body.String(), "nor anything in a dot directory")
	})
	t.Run("the API's paths stay the API's", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1/nope", "/v1", "/.well-known/nope", "/oauth2/nope"} {
			rec := do(t, srv, "GET", path, nil)
			require.Equal(t, http.StatusNotFound, rec.Code, path)
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), path)
		}
		rec := do(t, srv, "GET", "/healthz", nil)
		require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
		rec = do(t, srv, "GET", "/v1/openapi.json", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	})
	t.Run("only GET and HEAD reach the app", func(t *testing.T) {
		t.Parallel()
		rec := do(t, srv, "HEAD", "/projects", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		rec = do(t, srv, "POST", "/projects", nil)
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	})
	t.Run("without a UI every unknown path is a problem", func(t *testing.T) {
		t.Parallel()
		deps, _, _ := testDeps()
		rec := do(t, NewServer(deps), "GET", "/login", nil)
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	})
}

func TestOpenAPIDocumentIsTheServedOne(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	rec := do(t, NewServer(deps), "GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, rec.Body.String(), string(OpenAPIDocument(deps)))
}
