package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// openAPIMetaSchemaID is the $id of testdata/openapi-3.1-schema.json, the official
// OpenAPI 3.1 schema (see testdata/README.md).
const openAPIMetaSchemaID = "https://spec.openapis.org/oas/3.1/schema/2022-10-07"

func compileOpenAPIMetaSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/openapi-3.1-schema.json")
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource(openAPIMetaSchemaID, doc))
	sch, err := c.Compile(openAPIMetaSchemaID)
	require.NoError(t, err)
	return sch
}

func servedOpenAPI(t *testing.T) []byte {
	t.Helper()
	deps, _, _ := testDeps()
	deps.Version = "1.2.3"
	rec := do(t, NewServer(deps), "GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	return rec.Body.Bytes()
}

func unmarshalInstance(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return v
}

func TestOpenAPIIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	sch := compileOpenAPIMetaSchema(t)
	spec := servedOpenAPI(t)
	require.NoError(t, sch.Validate(unmarshalInstance(t, spec)))

	var doc map[string]any
	require.NoError(t, json.Unmarshal(spec, &doc))
	require.Equal(t, "3.1.0", doc["openapi"])
	require.Equal(t, "1.2.3", doc["info"].(map[string]any)["version"])
	require.Equal(t, []any{map[string]any{"url": "/"}}, doc["servers"])
	components := doc["components"].(map[string]any)
	require.Contains(t, components["schemas"], "Problem")
	require.Contains(t, components["responses"], "NotFound")

	// The validator is not vacuous: it rejects broken documents.
	broken := []func(d map[string]any){
		func(d map[string]any) { delete(d, "info") },
		func(d map[string]any) { d["openapi"] = "3.0.3" },
		func(d map[string]any) {
			op := d["paths"].(map[string]any)["/healthz"].(map[string]any)["get"].(map[string]any)
			op["responses"].(map[string]any)["200"].(map[string]any)["description"] = nil
		},
		func(d map[string]any) {
			d["paths"].(map[string]any)["/healthz"].(map[string]any)["fetch"] = map[string]any{}
		},
	}
	for i, breakIt := range broken {
		var d map[string]any
		require.NoError(t, json.Unmarshal(spec, &d))
		breakIt(d)
		b, err := json.Marshal(d)
		require.NoError(t, err)
		require.Error(t, sch.Validate(unmarshalInstance(t, b)), "broken document %d", i)
	}
}

// TestOpenAPIMatchesRoutes checks the document against the mux itself: every registered
// route is documented under its method, and every documented operation routes to the
// route that documents it.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	rt := newRouter()
	addRoutes(rt, withDefaults(deps), &openAPISpec{})
	require.NotEmpty(t, rt.routes)

	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(servedOpenAPI(t), &doc))

	patternOf := map[string]string{} // operationId → pattern
	for _, r := range rt.routes {
		patternOf[r.op.ID] = r.pattern
		path, _, err := openAPIPath(r.path, nil)
		require.NoError(t, err)
		item, ok := doc.Paths[path]
		require.True(t, ok, "route %q is missing from the document", r.pattern)
		op, ok := item[strings.ToLower(r.method)]
		require.True(t, ok, "route %q: method missing from the document", r.pattern)
		require.Equal(t, r.op.ID, op.OperationID)
	}

	documented := 0
	wildcard := regexp.MustCompile(`\{[^}]+\}`)
	for path, item := range doc.Paths {
		for method, op := range item {
			documented++
			pattern, ok := patternOf[op.OperationID]
			require.True(t, ok, "%s %s (%s) is documented but not routed", method, path, op.OperationID)
			target := wildcard.ReplaceAllString(path, "sample")
			_, got := rt.mux.Handler(httptest.NewRequest(strings.ToUpper(method), target, nil))
			require.Equal(t, pattern, got, "%s %s must route to the route that documents it", method, path)
		}
	}
	require.Equal(t, len(rt.routes), documented)
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	t.Parallel()
	var doc any
	require.NoError(t, json.Unmarshal(servedOpenAPI(t), &doc))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(r, "#/"), r)
				target := doc
				for _, part := range strings.Split(r[2:], "/") {
					m, ok := target.(map[string]any)
					require.True(t, ok, r)
					target, ok = m[part]
					require.True(t, ok, "dangling $ref %s", r)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// TestResponsesMatchTheirSchemas validates real answers against the schemas the document
// gives for them, compiled as JSON Schema 2020-12 (which also checks the schemas).
func TestResponsesMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	const docURL = "https://coditect.test/openapi.json"
	spec := servedOpenAPI(t)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource(docURL, unmarshalInstance(t, spec)))
	schema := func(name string) *jsonschema.Schema {
		sch, err := c.Compile(docURL + "#/components/schemas/" + name)
		require.NoError(t, err, name)
		return sch
	}

	deps, _, _ := testDeps()
	deps.Ready = []ReadyCheck{{Name: "redis", Check: func(context.Context) error { return coditect.Errorf(coditect.CodeUnavailable, "down") }}}
	h := NewServer(deps)
	problemHandler := serveWith(Deps{}, func(rt *router) {
		rt.handle("GET /invalid", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, r, coditect.Invalid(coditect.FieldError{Field: "name", Message: "required"}))
		}), testOp("invalid"))
	})

	for _, tt := range []struct {
		schema string
		rec    *httptest.ResponseRecorder
	}{
		{"Health", do(t, h, "GET", "/healthz", nil)},
		{"Readiness", do(t, h, "GET", "/readyz", nil)},
		{"Problem", do(t, h, "GET", "/nope", nil)},
		{"Problem", do(t, h, "PUT", "/healthz", nil)},
		{"Problem", do(t, problemHandler, "GET", "/invalid", nil)},
	} {
		require.NoError(t, schema(tt.schema).Validate(unmarshalInstance(t, tt.rec.Body.Bytes())), "%s: %s", tt.schema, tt.rec.Body)
	}
	require.Error(t, schema("Problem").Validate(unmarshalInstance(t, []byte(`{"status":404}`))))
}

func TestOpenAPIServedWithETag(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})
	rec := do(t, h, "GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	etag := rec.Header().Get("ETag")
	require.NotEmpty(t, etag)
	require.True(t, json.Valid(rec.Body.Bytes()))

	rec = do(t, h, "GET", "/v1/openapi.json", nil, "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, rec.Code)
	require.Empty(t, rec.Body.Bytes())
}

func TestRouterRefusesUndocumentedRoutes(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	for name, add := range map[string]func(rt *router){
		"no operation":      func(rt *router) { rt.handle("GET /x", h, operation{}) },
		"no method":         func(rt *router) { rt.handle("/x", h, testOp("x")) },
		"no responses":      func(rt *router) { rt.handle("GET /x", h, operation{ID: "x", Summary: "x", Tags: []string{"t"}}) },
		"duplicate ID":      func(rt *router) { rt.handle("GET /x", h, testOp("x")); rt.handle("GET /y", h, testOp("x")) },
		"conflicting route": func(rt *router) { rt.handle("GET /x", h, testOp("x")); rt.handle("GET /x", h, testOp("y")) },
	} {
		require.Panics(t, func() { add(newRouter()) }, name)
	}

	for name, op := range map[string]operation{
		"unknown path param": func() operation { o := testOp("x"); o.PathParams = map[string]string{"nope": "?"}; return o }(),
		"odd problem status": func() operation { o := testOp("x"); o.Problems = []int{418}; return o }(),
		"bad parameter":      func() operation { o := testOp("x"); o.Params = []parameter{{Name: "q", In: "body"}}; return o }(),
		"body without schema": func() operation {
			o := testOp("x")
			o.Body = &requestBody{}
			return o
		}(),
	} {
		rt := newRouter()
		rt.handle("GET /x/{id}", h, op)
		require.Error(t, (&openAPISpec{}).build("v", rt.routes), name)
	}
}

func TestOpenAPIPath(t *testing.T) {
	t.Parallel()
	path, params, err := openAPIPath("/v1/orgs/{org}/files/{rest...}", map[string]string{"org": "slug or id"})
	require.NoError(t, err)
	require.Equal(t, "/v1/orgs/{org}/files/{rest}", path)
	require.Len(t, params, 2)
	require.Equal(t, "slug or id", params[0]["description"])
	require.Equal(t, true, params[1]["required"])

	path, params, err = openAPIPath("/v1/{$}", nil)
	require.NoError(t, err)
	require.Equal(t, "/v1/", path)
	require.Empty(t, params)
}
