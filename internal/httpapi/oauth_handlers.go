package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/oauth"
)

// isJWT reports whether a bearer credential has a JWT's shape (header.payload.signature).
// The OAuth provider's opaque tokens (ory_at_….…) have one dot, API keys none.
func isJWT(cred string) bool { return strings.Count(cred, ".") == 2 }

// oauthClientRole is the role a client-credentials token acts with in its
// organization: member with the api:write scope, viewer otherwise. A client never
// administers: registering clients, members, keys and billing stay with people.
func oauthClientRole(scopes []string) coditect.Role {
	if slices.Contains(scopes, oauth.ScopeAPIWrite) {
		return coditect.RoleMember
	}
	return coditect.RoleViewer
}

// authenticateOAuthToken turns a valid OAuth access token into its actor: a user's
// token is that account (with no session: inOrg resolves its membership as for any
// person), a client-credentials token is the client, bound to its organization.
func (a *access) authenticateOAuthToken(ctx context.Context, raw string) (coditect.Actor, error) {
	at, err := a.oauthTokens.VerifyAccessToken(ctx, raw)
	if err != nil {
		return coditect.Actor{}, err
	}
	switch {
	case !at.AccountID.IsZero():
		// A person's token granted to an application: the person, capped by the scopes
		// they approved (api:write → member, api:read → viewer, neither → none).
		return coditect.Actor{Kind: coditect.ActorAccount, AccountID: at.AccountID, Delegated: true, RoleCap: oauthPersonCap(at.Scopes)}, nil
	case !at.Tenant.IsZero() && at.Tenant == at.ClientTenant && !at.ClientUUID.IsZero():
		return coditect.Actor{Kind: coditect.ActorOAuthClient, OAuthClientID: coditect.OAuthClientID(at.ClientUUID),
			Tenant: at.Tenant, Role: oauthClientRole(at.Scopes)}, nil
	}
	return coditect.Actor{}, coditect.Errorf(coditect.CodeUnauthorized, "invalid or expired access token")
}

// withRequestInfo gives the OAuth provider's routes, which are not gated, the request
// origin every gated route gets: the sign-in form's throttle counts failures per
// client IP from it, and audit rows name it.
func withRequestInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := audit.WithInfo(r.Context(), audit.RequestInfo{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 512)})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// oauthClientRequest is POST /v1/orgs/{org}/oauth-clients' body.
type oauthClientRequest struct {
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	Public       bool     `json:"public"`
}

// createdOAuthClient is a new client with its secret, shown this once (null for a
// public client).
type createdOAuthClient struct {
	oauth.Client
	ClientSecret *string `json:"client_secret"`
}

// oauthClientsUnavailable answers while no provider is configured.
func oauthClientsUnavailable(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, coditect.Errorf(coditect.CodeUnavailable, "the OAuth provider is not configured on this server"))
}

// oauthClientETag is a client's entity tag. A client changes only by being revoked.
func oauthClientETag(c oauth.Client) string {
	state := "active"
	if c.RevokedAt != nil {
		state = strconv.FormatInt(c.RevokedAt.UnixNano(), 10)
	}
	sum := sha256.Sum256([]byte(c.ID.String() + "|" + state))
	return `"OC1-` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
}

// ifMatch reports whether an If-Match header (RFC 9110 §13.1.1) is met by current; an
// absent header is met.
func ifMatch(header, current string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == current {
			return true
		}
	}
	return false
}

// handleOAuthClientList: GET /v1/orgs/{org}/oauth-clients.
func handleOAuthClientList(clients OAuthClientService, pg pager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clients == nil {
			oauthClientsUnavailable(w, r)
			return
		}
		fetch := func(ctx context.Context, p account.Page) ([]oauth.Client, error) {
			return clients.ListClients(ctx, oauth.Page{Limit: p.Limit, CreatedAt: p.CreatedAt, ID: oauth.ClientUUID(p.ID)})
		}
		serveList(w, r, pg, "oauth_clients", fetch, func(c oauth.Client) (time.Time, [16]byte) { return c.CreatedAt, c.ID })
	})
}

// handleOAuthClientCreate: POST /v1/orgs/{org}/oauth-clients. The secret is in this
// answer and nowhere else, ever.
func handleOAuthClientCreate(clients OAuthClientService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clients == nil {
			oauthClientsUnavailable(w, r)
			return
		}
		var in oauthClientRequest
		if decodeJSON(w, r, &in) != nil {
			return
		}
		c, secret, err := clients.RegisterClient(r.Context(), oauth.ClientParams{Name: in.Name, RedirectURIs: in.RedirectURIs,
			GrantTypes: in.GrantTypes, Scopes: in.Scopes, Public: in.Public})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		out := createdOAuthClient{Client: c}
		if secret != "" {
			out.ClientSecret = &secret
		}
		w.Header().Set("ETag", oauthClientETag(c))
		writeJSON(w, http.StatusCreated, out)
	})
}

// handleOAuthClientGet: GET /v1/orgs/{org}/oauth-clients/{id}.
func handleOAuthClientGet(clients OAuthClientService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clients == nil {
			oauthClientsUnavailable(w, r)
			return
		}
		id, ok := pathID[oauth.ClientUUID](w, r, "id", "OAuth client")
		if !ok {
			return
		}
		c, err := clients.GetClient(r.Context(), id)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		w.Header().Set("ETag", oauthClientETag(c))
		writeJSON(w, http.StatusOK, c)
	})
}

// handleOAuthClientRevoke: DELETE /v1/orgs/{org}/oauth-clients/{id}. Revoking stops
// the client and every code and token issued to it at once; revoking again is fine.
func handleOAuthClientRevoke(clients OAuthClientService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clients == nil {
			oauthClientsUnavailable(w, r)
			return
		}
		id, ok := pathID[oauth.ClientUUID](w, r, "id", "OAuth client")
		if !ok {
			return
		}
		if h := r.Header.Get("If-Match"); h != "" {
			c, err := clients.GetClient(r.Context(), id)
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			if !ifMatch(h, oauthClientETag(c)) {
				writeProblem(w, r, coditect.Errorf(coditect.CodePrecondition, "the OAuth client has changed since it was read (If-Match)"))
				return
			}
		}
		if _, err := clients.RevokeClient(r.Context(), id); err != nil {
			writeProblem(w, r, err)
			return
		}
		noContent(w)
	})
}

// oauthPersonCap is the highest role a person's OAuth token may act with.
func oauthPersonCap(scopes []string) coditect.Role {
	cap := coditect.Role("")
	for _, s := range scopes {
		switch s {
		case "api:write":
			return coditect.RoleMember
		case "api:read":
			cap = coditect.RoleViewer
		}
	}
	return cap
}
