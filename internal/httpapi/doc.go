// Package httpapi is CODITECT's HTTP adapter: NewServer builds the whole API from Deps.
//
// Where things are:
//   - routes.go: every route, each with its OpenAPI operation (rt.handle).
//   - server.go: Deps and the middleware order.
//   - middleware.go: recovery, request ids, access log, body limit; setLogActor.
//   - problem.go: the code → status table, writeProblem, writeJSON.
//   - decode.go: decodeJSON.
//   - openapi.go: the OpenAPI 3.1 document built from the route table.
//   - services.go: the interfaces of the services the handlers call (IdentityService,
//     AccountService, WorkService, AuditService, ExportService, IdempotencyStore…).
//   - access.go: authentication (bearer token, API key, session cookie + CSRF) and the
//     route wrappers public, maybePerson, signedIn, person and inOrg.
//   - idempotency.go: Idempotency-Key on every POST inside an organization (inOrg
//     runs it): claim, run once, keep the sealed response, replay it.
//   - pages.go: list pagination (?limit=, signed ?cursor=, {data, next_cursor}).
//   - fields.go: request members decoded with field-level errors (UUIDs, times, null
//     in partial updates) and strict query strings.
//   - identity_handlers.go, org_handlers.go: sign-up and sign-in, the signed-in account,
//     organizations, members, invitations, API keys, JWKS.
//   - work_handlers.go: organization rename and deletion, workspaces, projects, tasks
//     and the audit log.
//   - export_handlers.go: data exports (request, status, list, streamed download).
//   - access_schemas.go, work_schemas.go, export_schemas.go: their OpenAPI schemas.
//
// A handler decodes with decodeJSON, calls a service, and answers with writeJSON or
// writeProblem; it returns right after either.
package httpapi
