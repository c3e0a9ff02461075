package httpapi

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// uiRoute is the metrics and access-log label of every answer from the web app.
const uiRoute = "GET /{ui}"

// uiCSP is the web app's Content-Security-Policy: everything from this origin only, no
// inline script, no framing, no plugins. data: images are the QR code of MFA enrolment.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// withUI answers the GET and HEAD requests that no API route claims with the web app
// in fsys (web.FS()): files under /assets/ (content-hashed names, cached for a year),
// other files at the root, and index.html for everything else, so client-side routes
// such as /orgs/acme/projects load the app. Paths the API owns (/v1/…, probes,
// OAuth) never reach the app: an unknown one there stays a problem+json 404.
func withUI(fsys fs.FS, api *router) http.Handler {
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		panic("httpapi: Deps.UI has no index.html")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := api.mux.Handler(r); pattern != "" || !isUIRequest(r) {
			api.ServeHTTP(w, r)
			return
		}
		stateFrom(r.Context()).route = uiRoute
		h := w.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Reset and invitation links carry their token in the query string.
		h.Set("Referrer-Policy", "no-referrer")

		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if strings.HasPrefix(name, "assets/") {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				writeProblem(w, r, coditect.Errorf(coditect.CodeNotFound, "no such asset"))
				return
			}
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
			return
		}
		if name != "" && name != "index.html" && !hiddenPath(name) {
			if b, err := fs.ReadFile(fsys, name); err == nil {
				h.Set("Cache-Control", "no-cache")
				http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
				return
			}
		}
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
	})
}

// isUIRequest reports whether r may be answered by the web app: a GET or HEAD outside
// the paths the API, the probes and the OAuth provider own.
func isUIRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	switch p {
	case "/v1", "/healthz", "/readyz", "/metrics", "/userinfo", "/oauth2", "/.well-known":
		return false
	}
	for _, prefix := range []string{"/v1/", "/.well-known/", "/oauth2/"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}

// hiddenPath reports whether any segment of name starts with a dot (.vite/manifest.json,
// .gitkeep): build metadata the app never links to is not served.
func hiddenPath(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}
