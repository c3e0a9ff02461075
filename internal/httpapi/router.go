package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/coditect/coditect/internal/coditect"
)

// router is the API's ServeMux plus the record of every route mounted on it, from which
// the OpenAPI document is built.
type router struct {
	mux    *http.ServeMux
	routes []route
	ids    map[string]bool
}

// route is one mounted, documented endpoint.
type route struct {
	pattern string // as registered: "GET /v1/orgs/{org}/projects"
	method  string // "GET"
	path    string // "/v1/orgs/{org}/projects"
	op      operation
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), ids: map[string]bool{}}
}

// handle mounts h at pattern and records op as its documentation. It is the only way to
// add a route, so no route exists without an OpenAPI entry. The pattern must name one
// method; a route that is not fully documented panics at start-up.
func (rt *router) handle(pattern string, h http.Handler, op operation) {
	method, path, ok := strings.Cut(pattern, " ")
	switch {
	case !ok || method == "" || strings.ContainsAny(path, " \t") || !strings.HasPrefix(path, "/"):
		panic(fmt.Sprintf("httpapi: route %q: want \"METHOD /path\"", pattern))
	case op.ID == "" || op.Summary == "" || len(op.Tags) == 0 || len(op.Responses) == 0:
		panic(fmt.Sprintf("httpapi: route %q: operation needs an ID, a Summary, Tags and Responses", pattern))
	case rt.ids[op.ID]:
		panic(fmt.Sprintf("httpapi: route %q: operation ID %q is already used", pattern, op.ID))
	}
	rt.ids[op.ID] = true
	if g, ok := h.(gated); ok {
		op = documentAccess(op, g.level)
		if g.level == authMember && method == http.MethodPost {
			op = documentIdempotency(op)
		}
	}
	rt.mux.Handle(pattern, tagRoute(pattern, h))
	rt.routes = append(rt.routes, route{pattern: pattern, method: method, path: path, op: op})
}

// tagRoute stores the route's pattern in the request state: the metrics label and the
// access log's route field, known only once the mux has matched.
func tagRoute(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateFrom(r.Context()).route = pattern
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP routes r. ServeMux answers unmatched requests itself in text/plain; those are
// answered here as problems instead, with the mux still deciding 404 versus 405 and Allow.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		rt.mux.ServeHTTP(w, r) // not h: ServeHTTP also sets r.Pattern and path values
		return
	}
	answer := headerCapture{header: http.Header{}}
	h.ServeHTTP(&answer, r)
	switch answer.status {
	case http.StatusNotFound:
		writeProblem(w, r, coditect.Errorf(coditect.CodeNotFound, "no such resource"))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", answer.header.Get("Allow"))
		writeProblem(w, r, coditect.Errorf(codeMethodNotAllowed, "method %s is not allowed here", methodLabel(r.Method)))
	default:
		h.ServeHTTP(w, r) // a redirect or some other answer the mux knows better
	}
}

// headerCapture is a ResponseWriter that keeps only the status and headers.
type headerCapture struct {
	header http.Header
	status int
}

// Header returns the captured headers.
func (c *headerCapture) Header() http.Header { return c.header }

// WriteHeader captures the status.
func (c *headerCapture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// Write discards the body.
func (c *headerCapture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return len(b), nil
}
