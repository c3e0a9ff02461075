// Package httpapi is CODITECT's HTTP adapter: NewServer builds the whole API from Deps.
//
// Where things are:
//   - routes.go: every route, each with its OpenAPI operation (rt.handle).
//   - server.go: Deps and the middleware order.
//   - middleware.go: recovery, request ids, access log, body limit; setLogActor.
//   - problem.go: the code → status table, writeProblem, writeJSON.
//   - decode.go: decodeJSON.
//   - openapi.go: the OpenAPI 3.1 document built from the route table.
//
// A handler decodes with decodeJSON, calls a service, and answers with writeJSON or
// writeProblem; it returns right after either.
package httpapi
