package httpapi

import "net/http"

// addRoutes is the whole API surface. Every route is mounted through rt.handle with its
// OpenAPI operation, so the served document (GET /v1/openapi.json) cannot miss one.
// Handlers are makers that take only the dependencies they use.
func addRoutes(rt *router, deps Deps, spec *openAPISpec) {
	// Operations: probes, metrics, the API description.
	rt.handle("GET /healthz", quietLog(handleHealthz()), operation{
		ID:      "getHealthz",
		Summary: "Liveness: the process is serving",
		Tags:    []string{"operations"},
		Responses: map[int]response{
			http.StatusOK: {Description: "The process is serving.", Schema: ref("Health")},
		},
	})
	rt.handle("GET /readyz", quietLog(handleReadyz(deps.Logger, deps.Ready, readyTimeout)), operation{
		ID:          "getReadyz",
		Summary:     "Readiness: the dependencies answer",
		Description: "Checks every dependency (PostgreSQL, Redis…) concurrently within 2 s. A failing critical dependency answers 503; a failing optional one answers 200 with status degraded.",
		Tags:        []string{"operations"},
		Responses: map[int]response{
			http.StatusOK:                 {Description: "Ready; status is ok or degraded.", Schema: ref("Readiness")},
			http.StatusServiceUnavailable: {Description: "A critical dependency is down.", Schema: ref("Readiness")},
		},
	})
	rt.handle("GET /metrics", quietLog(handleMetrics(deps.Logger, deps.Gatherer)), operation{
		ID:      "getMetrics",
		Summary: "Prometheus metrics",
		Tags:    []string{"operations"},
		Responses: map[int]response{
			http.StatusOK: {Description: "The Prometheus text exposition format.", ContentType: "text/plain", Schema: jsonSchema{"type": "string"}},
		},
	})
	rt.handle("GET /v1/openapi.json", handleOpenAPI(spec), operation{
		ID:      "getOpenAPI",
		Summary: "This API's OpenAPI 3.1 document",
		Tags:    []string{"operations"},
		Responses: map[int]response{
			http.StatusOK: {Description: "The OpenAPI document.", Schema: jsonSchema{"type": "object"}},
		},
	})
}
