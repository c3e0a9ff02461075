package httpapi

import (
	"net/http"

	"github.com/coditect/coditect/internal/identity"
)

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
	if !deps.MetricsElsewhere {
		rt.handle("GET /metrics", quietLog(handleMetrics(deps.Logger, deps.Gatherer)), operation{
			ID:      "getMetrics",
			Summary: "Prometheus metrics",
			Tags:    []string{"operations"},
			Responses: map[int]response{
				http.StatusOK: {Description: "The Prometheus text exposition format.", ContentType: "text/plain", Schema: jsonSchema{"type": "string"}},
			},
		})
	}
	rt.handle("GET /v1/openapi.json", handleOpenAPI(spec), operation{
		ID:      "getOpenAPI",
		Summary: "This API's OpenAPI 3.1 document",
		Tags:    []string{"operations"},
		Responses: map[int]response{
			http.StatusOK: {Description: "The OpenAPI document.", Schema: jsonSchema{"type": "object"}},
		},
	})

	a := &access{identity: deps.Identity, accounts: deps.Accounts, oauthTokens: deps.OAuthTokens, cookieSecure: deps.CookieSecure, meter: deps.Meter,
		limiter: deps.RateLimiter, rates: deps.RateLimits, responses: deps.ResponseCache,
		idem: newIdempotency(deps.Idempotency, deps.CursorKey, deps.Logger)}
	addAccessRoutes(rt, deps, a)
	addWorkRoutes(rt, deps, a)
	addExportRoutes(rt, deps, a)
	addUsageRoutes(rt, deps, a)
	addBillingRoutes(rt, deps, a)
	if deps.OAuth != nil {
		addOAuthRoutes(rt, deps.OAuth)
	}
}

// addAccessRoutes mounts identity and access: sign-up and sign-in, the signed-in
// account (/v1/me…), organizations, members, invitations and API keys. Each handler
// is wrapped in what it needs from the caller (access.go): public, maybePerson,
// signedIn, person or inOrg; the wrapper also documents the route's security.
func addAccessRoutes(rt *router, deps Deps, a *access) {
	ids, accts, secure := deps.Identity, deps.Accounts, deps.CookieSecure
	pg := pager{key: deps.CursorKey}
	na := newAccounts{hash: deps.HashPassword}
	if na.hash != nil {
		na.policy = identity.NewPasswordPolicy()
	}
	org := map[string]string{"org": "The organization's slug or id."}
	body := func(schema, description string) *requestBody {
		return &requestBody{Schema: ref(schema), Description: description}
	}
	ok := func(description, schema string) map[int]response {
		return map[int]response{http.StatusOK: {Description: description, Schema: ref(schema)}}
	}
	status := func(code int, description string) map[int]response {
		return map[int]response{code: {Description: description}}
	}
	cookieNote := ` With session "cookie" the answer also sets the ` + cookieSession + ` (HttpOnly) and ` + cookieCSRF +
		` cookies (Secure, SameSite=Lax, ending with the session) and carries csrf_token.`

	// Signing up and in.
	rt.handle("POST /v1/signup", a.public(handleSignup(ids, accts, secure)), operation{
		ID:      "signup",
		Summary: "Create an account and its first organization",
		Description: "Creates the account, the organization (its id is the tenant id), the owner membership and the domain " +
			"{slug}.{base domain}, and enqueues the welcome email, in one transaction; then opens a first session." + cookieNote,
		Tags:      []string{"auth"},
		Body:      body("SignupRequest", ""),
		Responses: map[int]response{http.StatusCreated: {Description: "The account, its organization and a first session's tokens.", Schema: ref("SignupResult")}},
		Problems:  []int{http.StatusConflict},
	})
	rt.handle("POST /v1/auth/login", a.public(handleLogin(ids, secure)), operation{
		ID:      "login",
		Summary: "Sign in with email and password",
		Description: "Unknown email and wrong password get the same 401. With MFA on, a missing code is 401 auth.mfa_required and a wrong or " +
			"replayed one 401 auth.mfa_invalid. Repeated failures per account and per client are throttled: 429 with Retry-After." + cookieNote,
		Tags:      []string{"auth"},
		Body:      body("LoginRequest", ""),
		Responses: ok("A new session's tokens.", "Tokens"),
		Problems:  []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	})
	rt.handle("POST /v1/auth/refresh", a.public(handleRefresh(ids)), operation{
		ID:          "refreshTokens",
		Summary:     "Exchange a refresh token for a new pair",
		Description: "A refresh token works once. Presenting one that was already exchanged answers 401 auth.refresh_reused and ends the whole session: its newer tokens stop working too.",
		Tags:        []string{"auth"},
		Body:        body("RefreshRequest", ""),
		Responses:   ok("The new access and refresh tokens.", "Tokens"),
		Problems:    []int{http.StatusUnauthorized},
	})
	rt.handle("POST /v1/auth/logout", a.person(handleLogout(ids, secure)), operation{
		ID:          "logout",
		Summary:     "End the current session",
		Description: "Revokes the session the request signed in with (its access tokens, refresh token and cookie) and clears the browser cookies.",
		Tags:        []string{"auth"},
		Responses:   status(http.StatusNoContent, "Signed out."),
	})
	rt.handle("POST /v1/auth/verify-email", a.public(handleEmailVerify(ids)), operation{
		ID:        "verifyEmail",
		Summary:   "Confirm an email address with the emailed token",
		Tags:      []string{"auth"},
		Body:      body("TokenRequest", ""),
		Responses: status(http.StatusNoContent, "The address is verified."),
		Problems:  []int{http.StatusNotFound},
	})
	rt.handle("POST /v1/auth/password-reset", a.public(handlePasswordResetRequest(ids)), operation{
		ID:          "requestPasswordReset",
		Summary:     "Email a password reset link",
		Description: "Answers 202 whether or not the address has an account, so it cannot be used to find accounts.",
		Tags:        []string{"auth"},
		Body:        body("EmailRequest", ""),
		Responses:   status(http.StatusAccepted, "If the address has an account, a link is on its way."),
	})
	rt.handle("POST /v1/auth/password-reset/confirm", a.public(handlePasswordReset(ids)), operation{
		ID:          "resetPassword",
		Summary:     "Set a new password with the emailed token",
		Description: "Every session of the account ends.",
		Tags:        []string{"auth"},
		Body:        body("PasswordResetConfirmRequest", ""),
		Responses:   status(http.StatusNoContent, "The password is changed."),
		Problems:    []int{http.StatusNotFound},
	})
	rt.handle("GET /.well-known/jwks.json", handleJWKS(deps.JWKS), operation{
		ID:          "getJWKS",
		Summary:     "The public keys access tokens are signed with",
		Description: "A JSON Web Key Set (RFC 7517) of the current and still-trusted previous keys. Cacheable for 5 minutes.",
		Tags:        []string{"auth"},
		Responses:   ok("The key set.", "JWKS"),
		Problems:    []int{http.StatusServiceUnavailable},
	})

	// The signed-in account.
	rt.handle("GET /v1/me", a.person(handleMe(ids, accts)), operation{
		ID:        "getMe",
		Summary:   "The signed-in account and its organizations",
		Tags:      []string{"me"},
		Responses: ok("The account, whether MFA is on, and its memberships.", "Me"),
	})
	rt.handle("GET /v1/me/sessions", a.person(handleSessionList(ids, pg)), operation{
		ID:        "listMySessions",
		Summary:   "The account's active sessions",
		Tags:      []string{"me"},
		Params:    pageParams(),
		Responses: ok("A page of sessions, oldest first.", "SessionPage"),
		Problems:  []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("GET /v1/me/security-events", a.person(handleSecurityEvents(ids, pg)), operation{
		ID:          "listMySecurityEvents",
		Summary:     "The account's recent security events",
		Description: "Sign-ins, failed sign-ins, second-factor changes, password resets and refresh-token reuse, newest first (at most limit, up to 200).",
		Tags:        []string{"me"},
		Params:      pageParams(),
		Responses:   ok("The most recent security events, newest first; next_cursor is always null.", "SecurityEventPage"),
		Problems:    []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("DELETE /v1/me/sessions/{id}", a.person(handleSessionRevoke(ids, secure)), operation{
		ID:         "revokeMySession",
		Summary:    "End one of the account's sessions",
		Tags:       []string{"me"},
		PathParams: map[string]string{"id": "The session's id."},
		Responses:  status(http.StatusNoContent, "The session has ended."),
		Problems:   []int{http.StatusNotFound},
	})
	rt.handle("POST /v1/me/mfa/totp", a.person(handleMFAStart(ids)), operation{
		ID:          "startTOTP",
		Summary:     "Start TOTP enrolment",
		Description: "Returns a new secret; MFA turns on once a code from it is verified.",
		Tags:        []string{"me"},
		Responses:   ok("The secret to put into an authenticator app.", "MFAEnrollment"),
		Problems:    []int{http.StatusConflict},
	})
	rt.handle("POST /v1/me/mfa/totp/verify", a.person(handleMFAConfirm(ids)), operation{
		ID:        "verifyTOTP",
		Summary:   "Verify the first code and turn MFA on",
		Tags:      []string{"me"},
		Body:      body("CodeRequest", ""),
		Responses: ok("MFA is on; the recovery codes are shown this once.", "RecoveryCodes"),
		Problems:  []int{http.StatusConflict},
	})
	rt.handle("DELETE /v1/me/mfa/totp", a.person(handleMFADisable(ids)), operation{
		ID:          "disableTOTP",
		Summary:     "Turn MFA off",
		Description: "Needs a current code or a recovery code, so a stolen session alone cannot remove the second factor.",
		Tags:        []string{"me"},
		Body:        body("CodeRequest", ""),
		Responses:   status(http.StatusNoContent, "MFA is off."),
		Problems:    []int{http.StatusConflict},
	})
	rt.handle("POST /v1/me/email/verify", a.person(handleEmailVerifyResend(ids)), operation{
		ID:        "resendEmailVerification",
		Summary:   "Send the email verification link again",
		Tags:      []string{"me"},
		Responses: status(http.StatusAccepted, "A new link is on its way (unless the address is already verified)."),
	})

	// Organizations.
	rt.handle("GET /v1/orgs", a.signedIn(handleMyOrganizations(ids, accts, pg)), operation{
		ID:          "listMyOrganizations",
		Summary:     "The organizations I belong to",
		Description: "For a person, their memberships; for an API key, its own organization.",
		Tags:        []string{"organizations"},
		Params:      pageParams(),
		Responses:   ok("A page of organizations with my role in each.", "MyMembershipPage"),
		Problems:    []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("POST /v1/orgs", a.person(handleOrganizationCreate(accts, deps.BaseDomain)), operation{
		ID:        "createOrganization",
		Summary:   "Create an organization, with me as its owner",
		Tags:      []string{"organizations"},
		Body:      body("CreateOrganizationRequest", ""),
		Responses: map[int]response{http.StatusCreated: {Description: "The new organization.", Schema: ref("Organization")}},
		Problems:  []int{http.StatusConflict},
	})
	rt.handle("GET /v1/orgs/{org}", a.inOrgCached(handleOrganization(accts, deps.BaseDomain)), operation{
		ID:         "getOrganization",
		Summary:    "One organization",
		Tags:       []string{"organizations"},
		PathParams: org,
		Responses:  map[int]response{http.StatusOK: {Description: "The organization.", Schema: ref("Organization"), Headers: etagHeader()}},
	})
	rt.handle("PATCH /v1/orgs/{org}", a.inOrg(handleOrganizationUpdate(accts, deps.BaseDomain)), operation{
		ID:          "updateOrganization",
		Summary:     "Rename an organization",
		Description: "Admin or higher. The slug and domain stay. Renaming to the current name changes nothing. Honours If-Match (412 and nothing changes when the organization changed since it was read).",
		Tags:        []string{"organizations"},
		PathParams:  org,
		Params:      []parameter{ifMatchParam("Rename only if the organization's ETag is still this one.")},
		Body:        body("UpdateOrganizationRequest", ""),
		Responses:   map[int]response{http.StatusOK: {Description: "The renamed organization.", Schema: ref("Organization"), Headers: etagHeader()}},
		Problems:    []int{http.StatusPreconditionFailed},
	})
	rt.handle("DELETE /v1/orgs/{org}", a.inOrg(handleOrganizationDelete(accts)), operation{
		ID:      "deleteOrganization",
		Summary: "Delete an organization and erase all its data",
		Description: "Owner only, and only a person (not an API key or OAuth client). At once every member, API key, OAuth client and " +
			"pending invitation is cut off and the organization answers 404 to everyone; a background job then erases every row of its " +
			"data (the deletion itself is recorded outside the organization), and frees its slug and domain. Honours If-Match.",
		Tags:       []string{"organizations"},
		PathParams: org,
		Params:     []parameter{ifMatchParam("Delete only if the organization's ETag is still this one.")},
		Responses:  status(http.StatusAccepted, "The organization is deleted; its data is being erased."),
		Problems:   []int{http.StatusPreconditionFailed},
	})

	// Members.
	rt.handle("GET /v1/orgs/{org}/members", a.inOrgCached(handleMemberList(accts, pg)), operation{
		ID:         "listMembers",
		Summary:    "The organization's members",
		Tags:       []string{"members"},
		PathParams: org,
		Params:     pageParams(),
		Responses:  ok("A page of memberships, oldest first.", "MembershipPage"),
		Problems:   []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("PATCH /v1/orgs/{org}/members/{account_id}", a.inOrg(handleMemberUpdate(accts)), operation{
		ID:          "updateMember",
		Summary:     "Change a member's role",
		Description: "Admin or higher; only an owner grants or removes the owner role; the last owner cannot be demoted (409).",
		Tags:        []string{"members"},
		PathParams:  map[string]string{"org": org["org"], "account_id": "The member's account id."},
		Body:        body("RoleRequest", ""),
		Responses:   ok("The membership with its new role.", "Membership"),
		Problems:    []int{http.StatusConflict},
	})
	rt.handle("DELETE /v1/orgs/{org}/members/{account_id}", a.inOrg(handleMemberRemove(accts)), operation{
		ID:          "removeMember",
		Summary:     "Remove a member, or leave",
		Description: "Admin or higher, or the member themselves; the last owner cannot be removed or leave (409).",
		Tags:        []string{"members"},
		PathParams:  map[string]string{"org": org["org"], "account_id": "The member's account id."},
		Responses:   status(http.StatusNoContent, "The member is removed."),
		Problems:    []int{http.StatusConflict},
	})

	// Invitations.
	rt.handle("GET /v1/orgs/{org}/invitations", a.inOrg(handleInvitationList(accts, pg)), operation{
		ID:          "listInvitations",
		Summary:     "The organization's invitations",
		Description: "Admin or higher. Pending, accepted, revoked and expired ones alike.",
		Tags:        []string{"invitations"},
		PathParams:  org,
		Params:      pageParams(),
		Responses:   ok("A page of invitations, oldest first.", "InvitationPage"),
		Problems:    []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("POST /v1/orgs/{org}/invitations", a.inOrg(handleInvitationCreate(accts)), operation{
		ID:          "createInvitation",
		Summary:     "Invite someone by email",
		Description: "Admin or higher; only an owner invites owners. The invitation email (with the accept link) is sent in the background; the answer never carries the token.",
		Tags:        []string{"invitations"},
		PathParams:  org,
		Body:        body("InvitationRequest", ""),
		Responses:   map[int]response{http.StatusCreated: {Description: "The invitation.", Schema: ref("Invitation")}},
		Problems:    []int{http.StatusConflict},
	})
	rt.handle("DELETE /v1/orgs/{org}/invitations/{id}", a.inOrg(handleInvitationRevoke(accts)), operation{
		ID:         "revokeInvitation",
		Summary:    "Revoke an invitation",
		Tags:       []string{"invitations"},
		PathParams: map[string]string{"org": org["org"], "id": "The invitation's id."},
		Responses:  status(http.StatusNoContent, "The invitation can no longer be accepted."),
	})
	rt.handle("GET /v1/invitations/{token}", a.public(handleInvitationShow(accts)), operation{
		ID:          "getInvitation",
		Summary:     "What an invitation is for, by its token",
		Description: "For the accept page. An unknown, used, revoked or expired token is 404 invitation.invalid.",
		Tags:        []string{"invitations"},
		PathParams:  map[string]string{"token": "The token from the invitation email."},
		Responses:   ok("The inviting organization, the invited email and role.", "PendingInvitation"),
		Problems:    []int{http.StatusNotFound},
	})
	rt.handle("POST /v1/invitations/{token}/accept", a.maybePerson(handleInvitationAccept(ids, accts, na, secure, deps.BaseDomain)), operation{
		ID:      "acceptInvitation",
		Summary: "Join the inviting organization",
		Description: "Signed in, the account joins with the invited role; its email must be the invited one (403 invitation.email_mismatch). " +
			"Not signed in, the body's name and password create an account with the invited email, which joins and is signed in as by login " +
			"(201; 409 account.email_taken if the address already has an account: sign in first)." + cookieNote,
		Tags:       []string{"invitations"},
		PathParams: map[string]string{"token": "The token from the invitation email."},
		Body:       &requestBody{Schema: ref("AcceptInvitationRequest"), Optional: true, Description: "Only without an account: its name and password."},
		Responses: map[int]response{
			http.StatusOK:      {Description: "Joined.", Schema: ref("AcceptedInvitation")},
			http.StatusCreated: {Description: "The account was created, joined, and is signed in.", Schema: ref("AcceptedInvitation")},
		},
		Problems: []int{http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	})

	// API keys.
	rt.handle("GET /v1/orgs/{org}/api-keys", a.inOrg(handleAPIKeyList(accts, pg)), operation{
		ID:          "listAPIKeys",
		Summary:     "The organization's API keys",
		Description: "Admin or higher. Never their secrets; revoked keys included.",
		Tags:        []string{"api-keys"},
		PathParams:  org,
		Params:      pageParams(),
		Responses:   ok("A page of API keys, oldest first.", "APIKeyPage"),
		Problems:    []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("POST /v1/orgs/{org}/api-keys", a.inOrg(handleAPIKeyCreate(accts)), operation{
		ID:          "createAPIKey",
		Summary:     "Create an API key",
		Description: "Admin or higher; the key's role is at most the creator's. The secret is in this answer only.",
		Tags:        []string{"api-keys"},
		PathParams:  org,
		Body:        body("APIKeyRequest", ""),
		Responses:   map[int]response{http.StatusCreated: {Description: "The key, with its secret shown this once.", Schema: ref("CreatedAPIKey")}},
	})
	rt.handle("DELETE /v1/orgs/{org}/api-keys/{id}", a.inOrg(handleAPIKeyRevoke(accts)), operation{
		ID:         "revokeAPIKey",
		Summary:    "Revoke an API key",
		Tags:       []string{"api-keys"},
		PathParams: map[string]string{"org": org["org"], "id": "The key's id."},
		Responses:  status(http.StatusNoContent, "The key stops working at once."),
	})

	// OAuth clients.
	oc := deps.OAuthClients
	clientIDParam := map[string]string{"org": org["org"], "id": "The client's id (its id field, not its client_id)."}
	rt.handle("GET /v1/orgs/{org}/oauth-clients", a.inOrg(handleOAuthClientList(oc, pg)), operation{
		ID:          "listOAuthClients",
		Summary:     "The organization's OAuth clients",
		Description: "Admin or higher. Never their secrets; revoked clients included.",
		Tags:        []string{"oauth-clients"},
		PathParams:  org,
		Params:      pageParams(),
		Responses:   ok("A page of OAuth clients, oldest first.", "OAuthClientPage"),
		Problems:    []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("POST /v1/orgs/{org}/oauth-clients", a.inOrg(handleOAuthClientCreate(oc)), operation{
		ID:      "createOAuthClient",
		Summary: "Register an OAuth client",
		Description: "Admin or higher. The client signs people in with the authorization code flow and PKCE (S256) at /oauth2/auth, " +
			"and a confidential client may also get tokens for this organization with client_credentials at /oauth2/token. " +
			"A client-credentials token acts in this organization only: as a member when it was granted the api:write scope, " +
			"as a viewer otherwise. The client_secret is in this answer only (null for a public client).",
		Tags:       []string{"oauth-clients"},
		PathParams: org,
		Body:       body("OAuthClientRequest", ""),
		Responses:  map[int]response{http.StatusCreated: {Description: "The client, with its secret shown this once.", Schema: ref("CreatedOAuthClient")}},
	})
	rt.handle("GET /v1/orgs/{org}/oauth-clients/{id}", a.inOrg(handleOAuthClientGet(oc)), operation{
		ID:          "getOAuthClient",
		Summary:     "One OAuth client",
		Description: "Admin or higher. Never its secret. The ETag changes when the client is revoked.",
		Tags:        []string{"oauth-clients"},
		PathParams:  clientIDParam,
		Responses:   ok("The client.", "OAuthClient"),
	})
	rt.handle("DELETE /v1/orgs/{org}/oauth-clients/{id}", a.inOrg(handleOAuthClientRevoke(oc)), operation{
		ID:          "revokeOAuthClient",
		Summary:     "Revoke an OAuth client",
		Description: "Admin or higher. The client can no longer authenticate, and every code and token issued to it stops working at once. Revoking a revoked client is fine. Honours If-Match.",
		Tags:        []string{"oauth-clients"},
		PathParams:  clientIDParam,
		Params:      []parameter{{Name: "If-Match", In: "header", Description: "Revoke only if the client's ETag is still this one.", Schema: jsonSchema{"type": "string"}}},
		Responses:   status(http.StatusNoContent, "The client and its tokens stop working at once."),
		Problems:    []int{http.StatusPreconditionFailed},
	})
}

// addWorkRoutes mounts the product's own data: workspaces → projects → tasks, and
// the audit log. Every route is inside an organization (inOrg); work.Service checks
// the role (read: viewer, write: member) and audit.Service admin or higher.
func addWorkRoutes(rt *router, deps Deps, a *access) {
	pg := pager{key: deps.CursorKey}
	org := map[string]string{"org": "The organization's slug or id."}
	withID := func(what string) map[string]string {
		return map[string]string{"org": org["org"], "id": "The " + what + "'s id."}
	}
	body := func(schema string) *requestBody { return &requestBody{Schema: ref(schema)} }
	page := func(description, schema string) map[int]response {
		return map[int]response{http.StatusOK: {Description: description, Schema: ref(schema)}}
	}
	one := func(description, schema string) map[int]response {
		return map[int]response{http.StatusOK: {Description: description, Schema: ref(schema), Headers: etagHeader()}}
	}
	made := func(description, schema string) map[int]response {
		return map[int]response{http.StatusCreated: {Description: description, Schema: ref(schema), Headers: map[string]string{
			"Location": "The new resource's URL.", "ETag": "The new resource's entity tag, for If-Match.",
		}}}
	}
	gone := func(description string) map[int]response {
		return map[int]response{http.StatusNoContent: {Description: description}}
	}
	listProblems := []int{http.StatusBadRequest, http.StatusUnprocessableEntity}
	writeProblems := []int{http.StatusPreconditionFailed}

	gate := func(h http.Handler) http.Handler {
		if deps.Work == nil {
			return a.inOrg(unavailable("the work service"))
		}
		return a.inOrg(h)
	}
	cached := func(h http.Handler) http.Handler {
		if deps.Work == nil {
			return a.inOrg(unavailable("the work service"))
		}
		return a.inOrgCached(h)
	}
	svc := deps.Work

	// Workspaces.
	rt.handle("GET /v1/orgs/{org}/workspaces", cached(handleWorkspaceList(svc, pg)), operation{
		ID: "listWorkspaces", Summary: "The organization's workspaces", Tags: []string{"workspaces"},
		PathParams: org, Params: pageParams(),
		Responses: page("A page of workspaces, oldest first.", "WorkspacePage"), Problems: listProblems,
	})
	rt.handle("POST /v1/orgs/{org}/workspaces", gate(handleWorkspaceCreate(svc)), operation{
		ID: "createWorkspace", Summary: "Create a workspace", Description: "Member or higher.", Tags: []string{"workspaces"},
		PathParams: org, Body: body("CreateWorkspaceRequest"),
		Responses: made("The new workspace.", "Workspace"),
	})
	rt.handle("GET /v1/orgs/{org}/workspaces/{id}", cached(handleWorkspaceGet(svc)), operation{
		ID: "getWorkspace", Summary: "One workspace", Tags: []string{"workspaces"},
		PathParams: withID("workspace"), Responses: one("The workspace.", "Workspace"),
	})
	rt.handle("PATCH /v1/orgs/{org}/workspaces/{id}", gate(handleWorkspaceUpdate(svc)), operation{
		ID: "updateWorkspace", Summary: "Change a workspace",
		Description: "Member or higher. Fields left out stay as they are. Honours If-Match (412 and nothing changes when the workspace changed since it was read).",
		Tags:        []string{"workspaces"}, PathParams: withID("workspace"),
		Params: []parameter{ifMatchParam("Change only if the workspace's ETag is still this one.")},
		Body:   body("UpdateWorkspaceRequest"), Responses: one("The workspace as changed.", "Workspace"), Problems: writeProblems,
	})
	rt.handle("DELETE /v1/orgs/{org}/workspaces/{id}", gate(handleWorkspaceDelete(svc)), operation{
		ID: "deleteWorkspace", Summary: "Delete a workspace with its projects and their tasks",
		Description: "Member or higher. Deleting cascades: the workspace's projects and their tasks go with it (nothing is left orphaned), " +
			"and the audit row (workspace.delete) records projects_deleted and tasks_deleted. Honours If-Match.",
		Tags: []string{"workspaces"}, PathParams: withID("workspace"),
		Params:    []parameter{ifMatchParam("Delete only if the workspace's ETag is still this one.")},
		Responses: gone("The workspace, its projects and their tasks are deleted."), Problems: writeProblems,
	})

	// Projects.
	rt.handle("GET /v1/orgs/{org}/projects", cached(handleProjectList(svc, pg)), operation{
		ID: "listProjects", Summary: "The organization's projects", Tags: []string{"projects"},
		PathParams: org,
		Params: append(pageParams(), parameter{Name: "workspace_id", In: "query", Description: "Only this workspace's projects; " +
			"one that is not a workspace of this organization is 422.", Schema: jsonSchema{"type": "string", "format": "uuid"}}),
		Responses: page("A page of projects, oldest first.", "ProjectPage"), Problems: listProblems,
	})
	rt.handle("POST /v1/orgs/{org}/projects", gate(handleProjectCreate(svc)), operation{
		ID: "createProject", Summary: "Create a project in a workspace",
		Description: "Member or higher. A workspace_id that is not a workspace of this organization is 422.",
		Tags:        []string{"projects"}, PathParams: org, Body: body("CreateProjectRequest"),
		Responses: made("The new project.", "Project"),
	})
	rt.handle("GET /v1/orgs/{org}/projects/{id}", cached(handleProjectGet(svc)), operation{
		ID: "getProject", Summary: "One project", Tags: []string{"projects"},
		PathParams: withID("project"), Responses: one("The project.", "Project"),
	})
	rt.handle("PATCH /v1/orgs/{org}/projects/{id}", gate(handleProjectUpdate(svc)), operation{
		ID: "updateProject", Summary: "Change a project",
		Description: "Member or higher. Fields left out stay as they are. Honours If-Match (412 and nothing changes when the project changed since it was read).",
		Tags:        []string{"projects"}, PathParams: withID("project"),
		Params: []parameter{ifMatchParam("Change only if the project's ETag is still this one.")},
		Body:   body("UpdateProjectRequest"), Responses: one("The project as changed.", "Project"), Problems: writeProblems,
	})
	rt.handle("DELETE /v1/orgs/{org}/projects/{id}", gate(handleProjectDelete(svc)), operation{
		ID: "deleteProject", Summary: "Delete a project with its tasks",
		Description: "Member or higher. Deleting cascades: the project's tasks go with it, and the audit row (project.delete) records tasks_deleted. Honours If-Match.",
		Tags:        []string{"projects"}, PathParams: withID("project"),
		Params:    []parameter{ifMatchParam("Delete only if the project's ETag is still this one.")},
		Responses: gone("The project and its tasks are deleted."), Problems: writeProblems,
	})

	// Tasks.
	rt.handle("GET /v1/orgs/{org}/projects/{id}/tasks", cached(handleTaskList(svc, pg)), operation{
		ID: "listTasks", Summary: "A project's tasks", Tags: []string{"tasks"},
		PathParams: withID("project"),
		Params: append(pageParams(),
			parameter{Name: "status", In: "query", Description: "Only tasks in this status.", Schema: ref("TaskStatus")},
			parameter{Name: "assignee_id", In: "query", Description: "Only tasks assigned to this account, which must be a member (422 otherwise).",
				Schema: jsonSchema{"type": "string", "format": "uuid"}}),
		Responses: page("A page of tasks, oldest first.", "TaskPage"), Problems: listProblems,
	})
	rt.handle("POST /v1/orgs/{org}/projects/{id}/tasks", gate(handleTaskCreate(svc)), operation{
		ID: "createTask", Summary: "Create a task in a project",
		Description: "Member or higher. The status defaults to todo; an assignee must be a member of the organization (422 otherwise).",
		Tags:        []string{"tasks"}, PathParams: withID("project"), Body: body("CreateTaskRequest"),
		Responses: made("The new task.", "Task"),
	})
	rt.handle("GET /v1/orgs/{org}/tasks/{id}", cached(handleTaskGet(svc)), operation{
		ID: "getTask", Summary: "One task", Tags: []string{"tasks"},
		PathParams: withID("task"), Responses: one("The task.", "Task"),
	})
	rt.handle("PATCH /v1/orgs/{org}/tasks/{id}", gate(handleTaskUpdate(svc)), operation{
		ID: "updateTask", Summary: "Change a task",
		Description: "Member or higher. Fields left out stay as they are; assignee_id and due_at can be cleared with null. The status moves only " +
			"along todo → in_progress | done | canceled, in_progress → todo | done | canceled, done → todo | in_progress, canceled → todo; " +
			"any other move is 409 task.invalid_transition. An assignee must be a member (422 otherwise). Honours If-Match " +
			"(412 and nothing changes when the task changed since it was read).",
		Tags: []string{"tasks"}, PathParams: withID("task"),
		Params: []parameter{ifMatchParam("Change only if the task's ETag is still this one.")},
		Body:   body("UpdateTaskRequest"), Responses: one("The task as changed.", "Task"),
		Problems: []int{http.StatusConflict, http.StatusPreconditionFailed},
	})
	rt.handle("DELETE /v1/orgs/{org}/tasks/{id}", gate(handleTaskDelete(svc)), operation{
		ID: "deleteTask", Summary: "Delete a task", Description: "Member or higher. Honours If-Match.", Tags: []string{"tasks"},
		PathParams: withID("task"),
		Params:     []parameter{ifMatchParam("Delete only if the task's ETag is still this one.")},
		Responses:  gone("The task is deleted."), Problems: writeProblems,
	})

	// The audit log.
	auditLog := a.inOrg(handleAuditLogList(deps.Audit, pg))
	if deps.Audit == nil {
		auditLog = a.inOrg(unavailable("the audit log"))
	}
	dateTime := jsonSchema{"type": "string", "format": "date-time"}
	rt.handle("GET /v1/orgs/{org}/audit-logs", auditLog, operation{
		ID: "listAuditLogs", Summary: "The organization's audit log",
		Description: "Admin or higher. Every successful change in the organization, newest first. The log is append-only: no API changes or deletes a row.",
		Tags:        []string{"audit-logs"}, PathParams: org,
		Params: append(pageParams(),
			parameter{Name: "actor_id", In: "query", Description: "Only changes by this account, API key or OAuth client.", Schema: jsonSchema{"type": "string", "format": "uuid"}},
			parameter{Name: "action", In: "query", Description: "Only this action, e.g. project.create.", Schema: jsonSchema{"type": "string", "maxLength": 100}},
			parameter{Name: "since", In: "query", Description: "Only changes at or after this time (RFC 3339).", Schema: dateTime},
			parameter{Name: "until", In: "query", Description: "Only changes before this time (RFC 3339); must be after since.", Schema: dateTime}),
		Responses: page("A page of audit rows, newest first.", "AuditLogPage"), Problems: listProblems,
	})
}

// addExportRoutes mounts the organization's data exports. Every route is inside an
// organization (inOrg) and export.Service requires admin or higher.
func addExportRoutes(rt *router, deps Deps, a *access) {
	pg := pager{key: deps.CursorKey}
	org := map[string]string{"org": "The organization's slug or id."}
	withID := map[string]string{"org": org["org"], "id": "The export's id."}
	gate := func(h http.Handler) http.Handler {
		if deps.Exports == nil {
			return a.inOrg(unavailable("data export"))
		}
		return a.inOrg(h)
	}
	svc := deps.Exports
	tags := []string{"exports"}

	rt.handle("POST /v1/orgs/{org}/exports", gate(handleExportCreate(svc)), operation{
		ID: "createExport", Summary: "Request an export of all the organization's data", Tags: tags, PathParams: org,
		Description: "Admin or higher. A background job writes every row of the organization (organization, members, workspaces, " +
			"projects, tasks, audit log) into a gzip-compressed tar of JSON Lines files with manifest.json (row counts, sizes, SHA-256). " +
			"Follow it at Location until its status is completed, then download it; it expires after the configured time " +
			"(7 days by default). One export at a time: while another is pending or running this is 409 export.in_progress.",
		Responses: map[int]response{http.StatusAccepted: {Description: "The export is queued (status pending).", Schema: ref("Export"),
			Headers: map[string]string{"Location": "The export's URL, to follow its status.", "ETag": "The export's entity tag as shown."}}},
		Problems: []int{http.StatusConflict},
	})
	rt.handle("GET /v1/orgs/{org}/exports", gate(handleExportList(svc, pg)), operation{
		ID: "listExports", Summary: "The organization's exports", Description: "Admin or higher.", Tags: tags,
		PathParams: org, Params: pageParams(),
		Responses: map[int]response{http.StatusOK: {Description: "A page of exports, newest first.", Schema: ref("ExportPage")}},
		Problems:  []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	})
	rt.handle("GET /v1/orgs/{org}/exports/{id}", gate(handleExportGet(svc)), operation{
		ID: "getExport", Summary: "One export and its status", Description: "Admin or higher.", Tags: tags, PathParams: withID,
		Responses: map[int]response{http.StatusOK: {Description: "The export.", Schema: ref("Export"), Headers: etagHeader()}},
	})
	rt.handle("GET /v1/orgs/{org}/exports/{id}/download", gate(handleExportDownload(svc)), operation{
		ID: "downloadExport", Summary: "Download an export's archive", Tags: tags, PathParams: withID,
		Description: "Admin or higher. Streams the archive: a gzip-compressed tar of manifest.json followed by organization.jsonl, " +
			"members.jsonl, workspaces.jsonl, projects.jsonl, tasks.jsonl and audit_logs.jsonl (one JSON object per line); " +
			"`coditect tenant import` reads it. Each download is recorded in the audit log (export.download). " +
			"Pending or running: 409 export.not_ready; failed: 409 export.failed; expired: 404 export.expired.",
		Responses: map[int]response{http.StatusOK: {
			Description: "The archive.",
			ContentType: "application/gzip",
			Schema:      jsonSchema{"type": "string", "format": "binary", "contentMediaType": "application/gzip"},
			Headers: map[string]string{
				"Content-Length":      "The archive's size in bytes.",
				"Content-Disposition": `attachment; filename="coditect-export-<created>-<id>.tar.gz"`,
				"Cache-Control":       "no-store",
			},
		}},
		Problems: []int{http.StatusConflict},
	})
}

// ifMatchParam is the If-Match header of a conditional change.
func ifMatchParam(description string) parameter {
	return parameter{Name: "If-Match", In: "header", Description: description + ` A stale tag is 412; "*" or no header changes unconditionally.`,
		Schema: jsonSchema{"type": "string"}}
}

// etagHeader documents a single resource's ETag.
func etagHeader() map[string]string {
	return map[string]string{"ETag": "The resource's entity tag, for If-Match."}
}

// pageParams are the query parameters of every list.
func pageParams() []parameter {
	return []parameter{
		{Name: "limit", In: "query", Description: "Items per page (default 50).", Schema: jsonSchema{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
		{Name: "cursor", In: "query", Description: "The previous page's next_cursor.", Schema: jsonSchema{"type": "string"}},
	}
}

// addOAuthRoutes mounts the OAuth 2.0 / OpenID Connect provider's endpoints. It
// authenticates its clients itself and answers OAuth errors (RFC 6749 §5.2) rather
// than problems, so the routes are not gated and their documentation stays minimal.
func addOAuthRoutes(rt *router, h http.Handler) {
	obj := jsonSchema{"type": "object"}
	oauthErr := response{Description: "An OAuth error: {error, error_description}.", Schema: jsonSchema{
		"type": "object", "required": []string{"error"},
		"properties": map[string]jsonSchema{"error": {"type": "string"}, "error_description": {"type": "string"}},
	}}
	page := response{Description: "The sign-in or consent page.", ContentType: "text/html", Schema: jsonSchema{"type": "string"}}
	redirect := response{Description: "Back to the client's redirect_uri with a code, or with an error."}
	for _, r := range []struct {
		pattern, id, summary string
		responses            map[int]response
	}{
		{"GET /.well-known/openid-configuration", "getOpenIDConfiguration", "OpenID Connect discovery document",
			map[int]response{http.StatusOK: {Description: "The provider's metadata.", Schema: obj}}},
		{"GET /oauth2/auth", "oauthAuthorize", "OAuth 2.0 authorization endpoint (code flow with PKCE)",
			map[int]response{http.StatusOK: page, http.StatusSeeOther: redirect, http.StatusBadRequest: oauthErr}},
		{"POST /oauth2/auth", "oauthAuthorizeSubmit", "Submit the authorization endpoint's sign-in or consent form",
			map[int]response{http.StatusOK: page, http.StatusSeeOther: redirect, http.StatusBadRequest: oauthErr}},
		{"POST /oauth2/token", "oauthToken", "OAuth 2.0 token endpoint (form-encoded)",
			map[int]response{http.StatusOK: {Description: "The tokens.", Schema: obj}, http.StatusBadRequest: oauthErr, http.StatusUnauthorized: oauthErr}},
		{"POST /oauth2/revoke", "oauthRevoke", "OAuth 2.0 token revocation (RFC 7009, form-encoded)",
			map[int]response{http.StatusOK: {Description: "Revoked (or was not valid)."}, http.StatusBadRequest: oauthErr, http.StatusUnauthorized: oauthErr}},
		{"POST /oauth2/introspect", "oauthIntrospect", "OAuth 2.0 token introspection (RFC 7662, form-encoded)",
			map[int]response{http.StatusOK: {Description: "Whether the token is active, and its claims.", Schema: obj}, http.StatusUnauthorized: oauthErr}},
		{"GET /userinfo", "getUserinfo", "OpenID Connect UserInfo",
			map[int]response{http.StatusOK: {Description: "Claims about the token's subject.", Schema: obj}, http.StatusUnauthorized: oauthErr}},
		{"POST /userinfo", "postUserinfo", "OpenID Connect UserInfo (POST)",
			map[int]response{http.StatusOK: {Description: "Claims about the token's subject.", Schema: obj}, http.StatusUnauthorized: oauthErr}},
	} {
		rt.handle(r.pattern, withRequestInfo(h), operation{ID: r.id, Summary: r.summary, Tags: []string{"oauth"}, Responses: r.responses})
	}
}
