package httpapi

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

// handleMyOrganizations: GET /v1/orgs. A person gets their memberships (as in GET
// /v1/me); an API key gets its one organization with its role.
func handleMyOrganizations(ids IdentityService, accts AccountService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorOf(r)
		var list []identity.MeMembership
		if a.Kind == coditect.ActorAccount {
			me, err := ids.Me(r.Context(), a, orgReader{accts})
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			list = me.Memberships
		} else {
			org, err := accts.Organization(r.Context())
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			list = []identity.MeMembership{{Organization: identity.OrgRef{ID: org.ID, Slug: org.Slug, Name: org.Name}, Role: a.Role}}
		}
		// Organization ids are time-ordered (UUIDv7), so ordering by id alone is stable.
		serveSlice(w, r, pg, "my_organizations", list, func(m identity.MeMembership) (time.Time, [16]byte) {
			return time.Unix(0, 0), m.Organization.ID
		})
	})
}

type createOrganizationRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// handleOrganizationCreate: POST /v1/orgs.
func handleOrganizationCreate(accts AccountService, baseDomain string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in createOrganizationRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		org, err := accts.CreateOrganization(r.Context(), in.Name, in.Slug)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, organizationOf(org, baseDomain))
	})
}

// handleOrganization: GET /v1/orgs/{org}.
func handleOrganization(accts AccountService, baseDomain string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org, err := accts.Organization(r.Context())
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		withETag(w, account.OrganizationETag(org), organizationOf(org, baseDomain))
	})
}

// handleMemberList: GET /v1/orgs/{org}/members.
func handleMemberList(accts AccountService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, pg, "members", accts.Members, func(m account.Membership) (time.Time, [16]byte) { return m.CreatedAt, m.AccountID })
	})
}

type roleRequest struct {
	Role coditect.Role `json:"role"`
}

// handleMemberUpdate: PATCH /v1/orgs/{org}/members/{account_id}.
func handleMemberUpdate(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.AccountID](w, r, "account_id", "member")
		if !ok {
			return
		}
		var in roleRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		m, err := accts.ChangeRole(r.Context(), id, in.Role)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
	})
}

// handleMemberRemove: DELETE /v1/orgs/{org}/members/{account_id}.
func handleMemberRemove(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.AccountID](w, r, "account_id", "member")
		if !ok {
			return
		}
		if err := accts.RemoveMember(r.Context(), id); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// handleInvitationList: GET /v1/orgs/{org}/invitations.
func handleInvitationList(accts AccountService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, pg, "invitations", accts.Invitations, func(i account.Invitation) (time.Time, [16]byte) { return i.CreatedAt, i.ID })
	})
}

type inviteRequest struct {
	Email string        `json:"email"`
	Role  coditect.Role `json:"role"`
}

// handleInvitationCreate: POST /v1/orgs/{org}/invitations. The answer never holds
// the accept token: only the email does.
func handleInvitationCreate(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in inviteRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		inv, err := accts.Invite(r.Context(), in.Email, in.Role)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, inv)
	})
}

// handleInvitationRevoke: DELETE /v1/orgs/{org}/invitations/{id}.
func handleInvitationRevoke(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.InvitationID](w, r, "id", "invitation")
		if !ok {
			return
		}
		if err := accts.RevokeInvitation(r.Context(), id); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// handleAPIKeyList: GET /v1/orgs/{org}/api-keys.
func handleAPIKeyList(accts AccountService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, pg, "api_keys", accts.APIKeys, func(k account.APIKey) (time.Time, [16]byte) { return k.CreatedAt, k.ID })
	})
}

type apiKeyRequest struct {
	Name string        `json:"name"`
	Role coditect.Role `json:"role"`
}

// handleAPIKeyCreate: POST /v1/orgs/{org}/api-keys. The secret is in this answer
// and nowhere else, ever.
func handleAPIKeyCreate(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in apiKeyRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		k, err := accts.CreateAPIKey(r.Context(), in.Name, in.Role)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, k)
	})
}

// handleAPIKeyRevoke: DELETE /v1/orgs/{org}/api-keys/{id}.
func handleAPIKeyRevoke(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[coditect.APIKeyID](w, r, "id", "API key")
		if !ok {
			return
		}
		if err := accts.RevokeAPIKey(r.Context(), id); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// pendingInvitationBody is what the accept page shows about an invitation.
type pendingInvitationBody struct {
	Organization identity.OrgRef `json:"organization"`
	Email        string          `json:"email"`
	Role         coditect.Role   `json:"role"`
	ExpiresAt    time.Time       `json:"expires_at"`
}

// handleInvitationShow: GET /v1/invitations/{token}.
func handleInvitationShow(accts AccountService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := accts.InvitationByToken(r.Context(), r.PathValue("token"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, pendingInvitationBody{
			Organization: identity.OrgRef{ID: p.Organization.ID, Slug: p.Organization.Slug, Name: p.Organization.Name},
			Email:        p.Email, Role: p.Role, ExpiresAt: p.ExpiresAt,
		})
	})
}

// acceptInvitationRequest is the body of an accept without an account: the new
// account's name and password (its email is the invited one). Signed in, no body is
// needed.
type acceptInvitationRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Session  string `json:"session"`
}

// acceptInvitationResponse is the joined organization and role; when the accept
// created the account, also the account and its first session's tokens.
type acceptInvitationResponse struct {
	Organization organizationBody `json:"organization"`
	Role         coditect.Role    `json:"role"`
	Account      *account.Account `json:"account,omitempty"`
	*tokensBody
}

// newAccounts is what accepting an invitation without an account needs beyond the
// services: identity.Service has no "sign up through an invitation" method yet, so
// the password is checked and hashed here and the account created by
// account.AcceptInvitation in the joining transaction.
type newAccounts struct {
	hash   func(string) (string, error)
	policy *identity.PasswordPolicy
}

// handleInvitationAccept: POST /v1/invitations/{token}/accept. A signed-in person
// joins with their account (its email must be the invited one). A visitor sends
// {name, password}: the account is created with the invited email, joins, and is
// signed in as by login.
func handleInvitationAccept(ids IdentityService, accts AccountService, na newAccounts, secure bool, baseDomain string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in acceptInvitationRequest
		if r.ContentLength != 0 && decodeJSON(w, r, &in) != nil {
			return
		}
		token := r.PathValue("token")
		ctx := r.Context()

		if a, signedIn := actorOf(r); signedIn {
			me, err := ids.Me(ctx, a, orgReader{accts})
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			org, m, err := accts.AcceptInvitation(ctx, token, a.AccountID, me.Account.Email, nil)
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, acceptInvitationResponse{Organization: organizationOf(org, baseDomain), Role: m.Role})
			return
		}

		cookie, err := wantsCookie(r, in.Session)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if na.hash == nil {
			writeProblem(w, r, coditect.Errorf(coditect.CodeUnavailable, "accepting an invitation without an account is not configured on this server; sign in first"))
			return
		}
		// The invitation must be live before anything is checked or hashed, and its
		// email is the new account's.
		inv, err := accts.InvitationByToken(ctx, token)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		name := strings.TrimSpace(in.Name)
		var fields []coditect.FieldError
		if name == "" || utf8.RuneCountInString(name) > 200 {
			fields = append(fields, coditect.FieldError{Field: "name", Message: "must be 1 to 200 characters"})
		}
		if msg := na.policy.Check(in.Password, inv.Email); msg != "" {
			fields = append(fields, coditect.FieldError{Field: "password", Message: msg})
		}
		if len(fields) > 0 {
			writeProblem(w, r, coditect.Invalid(fields...))
			return
		}
		hash, err := na.hash(in.Password)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		acc := account.Account{ID: coditect.NewID[coditect.AccountID](), Email: inv.Email, Name: name, PasswordHash: hash}
		org, m, err := accts.AcceptInvitation(ctx, token, acc.ID, inv.Email, &acc)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		t, err := ids.Login(ctx, identity.LoginParams{Email: inv.Email, Password: in.Password, Cookie: cookie}, clientOf(r))
		if err != nil {
			setRetryAfter(w, err)
			writeProblem(w, r, err)
			return
		}
		// Read the account back as stored (its creation time) rather than echo ours.
		me, err := ids.Me(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: t.AccountID, SessionID: t.SessionID}, orgReader{accts})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		startSession(w, t, secure)
		tb := tokensOf(t)
		writeJSON(w, http.StatusCreated, acceptInvitationResponse{Organization: organizationOf(org, baseDomain), Role: m.Role, Account: &me.Account, tokensBody: &tb})
	})
}
