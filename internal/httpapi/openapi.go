package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// jsonSchema is a JSON Schema (draft 2020-12, the OpenAPI 3.1 dialect) written as a map.
type jsonSchema map[string]any

// ref points at a schema in components.schemas (see componentSchemas).
func ref(name string) jsonSchema { return jsonSchema{"$ref": "#/components/schemas/" + name} }

// operation documents one route. Path parameters come from the route's pattern; every
// operation is documented to answer 500, and one with a Body also 400, 413 and 422.
type operation struct {
	ID          string // operationId: unique, lowerCamelCase, e.g. "listProjects"
	Summary     string
	Description string
	Tags        []string
	PathParams  map[string]string // descriptions of the pattern's {wildcards}, by name
	Params      []parameter       // query and header parameters
	Body        *requestBody      // a JSON request body, decoded with decodeJSON
	Responses   map[int]response  // the route's own answers, usually the successes
	Problems    []int             // further standard problem answers: 401, 404, 409…

	// security is the credentials the route accepts, as OpenAPI security requirement
	// objects. router.handle sets it (and the 401/403/404 problems) from the route's
	// access wrapper (see access.go), so it is never written by hand.
	security []map[string][]string
}

// parameter is a query or header parameter.
type parameter struct {
	Name        string
	In          string // "query" or "header"
	Description string
	Required    bool
	Schema      jsonSchema
}

// requestBody is an application/json request body, required unless Optional.
type requestBody struct {
	Description string
	Schema      jsonSchema
	Optional    bool
}

// response is one documented answer. A nil Schema means no body (204).
type response struct {
	Description string
	ContentType string // "" means application/json
	Schema      jsonSchema
	Headers     map[string]string // response headers (string-valued): name → description
}

// problemStatuses are the statuses with a standard problem+json response in
// components.responses, named after their status text ("NotFound").
func problemStatuses() []int {
	return []int{400, 401, 402, 403, 404, 409, 412, 413, 422, 429, 500, 503}
}

// componentSchemas are the named schemas operations refer to with ref(name): the
// operational ones here, identity and access ones from accessSchemas, the work API's
// from workSchemas, the data exports' from exportSchemas.
func componentSchemas() map[string]jsonSchema {
	str := jsonSchema{"type": "string"}
	out := map[string]jsonSchema{
		"Problem": {
			"type":        "object",
			"description": "An RFC 9457 problem details object.",
			"required":    []string{"type", "title", "status", "detail", "code", "request_id"},
			"properties": map[string]jsonSchema{
				"type":       {"type": "string", "format": "uri-reference", "description": "Identifies the problem type: https://coditect.dev/problems/<code>."},
				"title":      {"type": "string", "description": "The HTTP status text."},
				"status":     {"type": "integer", "minimum": 100, "maximum": 599},
				"detail":     {"type": "string", "description": "What went wrong, for people."},
				"code":       {"type": "string", "description": "A stable machine-readable code, e.g. not_found or project.name_taken.", "examples": []string{"invalid", "project.name_taken"}},
				"request_id": {"type": "string", "description": "The request's X-Request-ID; quote it when reporting a problem."},
				"errors":     {"type": "array", "items": ref("FieldError"), "description": "The invalid fields, for validation problems."},
				"limit":      ref("PlanLimit"),
			},
		},
		"PlanLimit": {
			"type":        "object",
			"description": "The plan limit a billing.limit_reached problem (402) reached.",
			"required":    []string{"name", "max", "plan"},
			"properties": map[string]jsonSchema{
				"name": {"enum": []string{"max_members", "max_projects"}},
				"max":  {"type": "integer", "description": "How many the plan allows."},
				"plan": {"type": "string", "description": "The organization's current plan."},
			},
		},
		"FieldError": {
			"type":     "object",
			"required": []string{"field", "message"},
			"properties": map[string]jsonSchema{
				"field":   {"type": "string", "description": "The field's path in the request body, e.g. name or owner.email."},
				"message": str,
			},
		},
		"Health": {
			"type":       "object",
			"required":   []string{"status"},
			"properties": map[string]jsonSchema{"status": {"const": "ok"}},
		},
		"Readiness": {
			"type":     "object",
			"required": []string{"status", "checks"},
			"properties": map[string]jsonSchema{
				"status": {"enum": []string{"ok", "degraded", "unavailable"}},
				"checks": {"type": "object", "additionalProperties": ref("CheckResult")},
			},
		},
		"CheckResult": {
			"type":     "object",
			"required": []string{"status"},
			"properties": map[string]jsonSchema{
				"status": {"enum": []string{"up", "down"}},
				"error":  {"type": "string", "description": "Why the check failed, in a word or two; details are in the server log."},
			},
		},
	}
	for _, more := range []map[string]jsonSchema{accessSchemas(), workSchemas(), exportSchemas(), usageSchemas(), billingSchemas()} {
		for name, sch := range more {
			if _, dup := out[name]; dup {
				panic("httpapi: schema " + name + " is defined twice")
			}
			out[name] = sch
		}
	}
	return out
}

// problemResponseName names the components.responses entry of a problem status.
func problemResponseName(status int) string {
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}

func problemResponses() map[string]any {
	out := map[string]any{}
	for _, status := range problemStatuses() {
		resp := map[string]any{
			"description": http.StatusText(status),
			"content": map[string]any{
				"application/problem+json": map[string]any{"schema": ref("Problem")},
			},
		}
		switch status {
		case http.StatusTooManyRequests:
			resp["headers"] = map[string]any{
				"Retry-After": map[string]any{"description": "Seconds to wait before retrying.", "schema": jsonSchema{"type": "integer", "minimum": 0}},
			}
		case http.StatusUnauthorized:
			resp["headers"] = map[string]any{
				"WWW-Authenticate": map[string]any{"description": "The Bearer challenge (RFC 6750), with error=\"invalid_token\" when the token sent was refused.", "schema": jsonSchema{"type": "string"}},
			}
		}
		out[problemResponseName(status)] = resp
	}
	return out
}

// openAPISpec is the served OpenAPI document, built once from the route table.
type openAPISpec struct {
	json []byte
	etag string
}

// build renders the document for routes. An error means the route table documents
// something inconsistently (a bug caught at start-up).
func (s *openAPISpec) build(version string, routes []route) error {
	paths := map[string]map[string]any{}
	tags := []string{}
	for _, rt := range routes {
		path, params, err := openAPIPath(rt.path, rt.op.PathParams)
		if err != nil {
			return fmt.Errorf("route %q: %w", rt.pattern, err)
		}
		op, err := operationObject(rt.op, params)
		if err != nil {
			return fmt.Errorf("route %q: %w", rt.pattern, err)
		}
		method := strings.ToLower(rt.method)
		if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
			return fmt.Errorf("route %q: OpenAPI cannot describe method %s", rt.pattern, rt.method)
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		if _, dup := paths[path][method]; dup {
			return fmt.Errorf("route %q: %s %s is documented twice", rt.pattern, rt.method, path)
		}
		paths[path][method] = op
		for _, t := range rt.op.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	slices.Sort(tags)
	tagObjects := make([]map[string]string, len(tags))
	for i, t := range tags {
		tagObjects[i] = map[string]string{"name": t}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "CODITECT API",
			"version": version,
			"description": "The CODITECT platform's HTTP API. Errors are application/problem+json (RFC 9457). " +
				"Every POST inside an organization (/v1/orgs/{org}/…) accepts Idempotency-Key; POSTs without an organization " +
				"(sign-up, sign-in, POST /v1/orgs…) ignore it. Single resources carry an ETag, and PATCH and DELETE honour If-Match.",
		},
		"servers": []map[string]string{{"url": "/"}},
		"paths":   paths,
		"tags":    tagObjects,
		"components": map[string]any{
			"schemas":         componentSchemas(),
			"responses":       problemResponses(),
			"securitySchemes": securitySchemes(),
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	s.json = append(b, '\n')
	s.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return nil
}

// openAPIPath turns a ServeMux path pattern into an OpenAPI path template and its path
// parameters: "/v1/orgs/{org}" → "/v1/orgs/{org}" with parameter org; "{rest...}" loses
// its dots; "{$}" (exact match) disappears.
func openAPIPath(pattern string, descriptions map[string]string) (string, []map[string]any, error) {
	segs := strings.Split(pattern, "/")
	var params []map[string]any
	seen := map[string]bool{}
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name := strings.TrimSuffix(seg[1:len(seg)-1], "...")
		if name == "$" {
			segs[i] = ""
			continue
		}
		segs[i] = "{" + name + "}"
		seen[name] = true
		p := map[string]any{"name": name, "in": "path", "required": true, "schema": jsonSchema{"type": "string"}}
		if d := descriptions[name]; d != "" {
			p["description"] = d
		}
		params = append(params, p)
	}
	for name := range descriptions {
		if !seen[name] {
			return "", nil, fmt.Errorf("PathParams describes {%s}, which the pattern does not have", name)
		}
	}
	return strings.Join(segs, "/"), params, nil
}

func operationObject(op operation, params []map[string]any) (map[string]any, error) {
	for _, p := range op.Params {
		if p.Name == "" || (p.In != "query" && p.In != "header") || p.Schema == nil {
			return nil, fmt.Errorf("parameter %q: needs a Name, In query or header, and a Schema", p.Name)
		}
		param := map[string]any{"name": p.Name, "in": p.In, "schema": p.Schema}
		if p.Description != "" {
			param["description"] = p.Description
		}
		if p.Required {
			param["required"] = true
		}
		params = append(params, param)
	}

	responses := map[string]any{}
	for status, resp := range op.Responses {
		if status < 100 || status > 599 || resp.Description == "" {
			return nil, fmt.Errorf("response %d: needs a valid status and a Description", status)
		}
		r := map[string]any{"description": resp.Description}
		if resp.Schema != nil {
			ct := resp.ContentType
			if ct == "" {
				ct = "application/json"
			}
			r["content"] = map[string]any{ct: map[string]any{"schema": resp.Schema}}
		}
		if len(resp.Headers) > 0 {
			headers := map[string]any{}
			for name, description := range resp.Headers {
				schema := jsonSchema{"type": "string"}
				if name == "Content-Length" {
					schema = jsonSchema{"type": "integer", "minimum": 0}
				}
				headers[name] = map[string]any{"description": description, "schema": schema}
			}
			r["headers"] = headers
		}
		responses[strconv.Itoa(status)] = r
	}
	problems := append([]int{http.StatusInternalServerError}, op.Problems...)
	if op.Body != nil {
		problems = append(problems, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
	}
	for _, status := range problems {
		if !slices.Contains(problemStatuses(), status) {
			return nil, fmt.Errorf("problem %d: not a standard problem status %v", status, problemStatuses())
		}
		if _, own := op.Responses[status]; !own {
			responses[strconv.Itoa(status)] = map[string]any{"$ref": "#/components/responses/" + problemResponseName(status)}
		}
	}

	obj := map[string]any{
		"operationId": op.ID,
		"summary":     op.Summary,
		"tags":        op.Tags,
		"responses":   responses,
	}
	if op.Description != "" {
		obj["description"] = op.Description
	}
	if op.security != nil {
		obj["security"] = op.security
	}
	if len(params) > 0 {
		obj["parameters"] = params
	}
	if op.Body != nil {
		if op.Body.Schema == nil {
			return nil, fmt.Errorf("request body: needs a Schema")
		}
		body := map[string]any{
			"required": !op.Body.Optional,
			"content":  map[string]any{"application/json": map[string]any{"schema": op.Body.Schema}},
		}
		if op.Body.Description != "" {
			body["description"] = op.Body.Description
		}
		obj["requestBody"] = body
	}
	return obj, nil
}

// handleOpenAPI serves the document built at start-up; ServeContent answers conditional
// requests from the ETag, so clients that poll it pay nothing.
func handleOpenAPI(spec *openAPISpec) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("ETag", spec.etag)
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(spec.json))
	})
}
