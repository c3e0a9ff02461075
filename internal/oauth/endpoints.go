package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/coditect/coditect/internal/coditect"
)

// serverError logs errors that are the server's fault and turns a database outage,
// which fosite reports as whatever the failed lookup implied (often invalid_client),
// into temporarily_unavailable (503), so clients retry instead of dropping their
// credentials.
func (p *Provider) serverError(ctx context.Context, where string, err error) error {
	if err == nil {
		return nil
	}
	var ce *coditect.Error
	if errors.As(err, &ce) && (ce.Code == coditect.CodeUnavailable || coditect.ErrorKind(ce) == coditect.CodeInternal) {
		p.log.ErrorContext(ctx, "oauth: "+where, "err", err)
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) || rfc.CodeField >= http.StatusInternalServerError {
		p.log.ErrorContext(ctx, "oauth: "+where, "err", err)
	}
	return err
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := withClientCache(r.Context())
	ar, err := p.oauth.NewAccessRequest(ctx, r, newSession())
	if err != nil {
		p.oauth.WriteAccessError(ctx, w, ar, p.serverError(ctx, "token", err))
		return
	}
	if ar.GetGrantTypes().ExactOne(GrantClientCredentials) {
		// The token acts for the client's organization. fosite has checked the client
		// may use this grant and request these scopes.
		c, ok := ar.GetClient().(*fositeClient)
		sess, ok2 := ar.GetSession().(*session)
		if !ok || !ok2 {
			p.oauth.WriteAccessError(ctx, w, ar, fosite.ErrServerError)
			return
		}
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		sess.Tenant = c.c.Tenant.String()
	}
	resp, err := p.oauth.NewAccessResponse(ctx, ar)
	if err != nil {
		p.oauth.WriteAccessError(ctx, w, ar, p.serverError(ctx, "token", err))
		return
	}
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := withClientCache(r.Context())
	err := p.serverError(ctx, "revoke", p.oauth.NewRevocationRequest(ctx, r))
	if errors.Is(err, fosite.ErrTemporarilyUnavailable) {
		// fosite would answer 200; RFC 7009 §2.2.1 says 503, so the client retries
		// instead of believing the token is gone.
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	p.oauth.WriteRevocationResponse(ctx, w, err)
}

// handleIntrospect answers RFC 7662 introspection for confidential clients that
// authenticate with HTTP Basic. A token is reported active only to clients of the
// organization that owns the token's client: one organization's clients learn nothing
// about another's tokens.
func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := withClientCache(r.Context())
	id, _, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="coditect"`)
		p.oauth.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Authenticate with the client's id and secret (HTTP Basic)."))
		return
	}
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, newSession())
	if err != nil {
		// Unknown, expired and revoked tokens are {"active": false}, but a failing
		// store is not the token's fault.
		if err = p.serverError(ctx, "introspect", err); errors.Is(err, fosite.ErrTemporarilyUnavailable) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
			return
		}
		p.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	if ir.IsActive() {
		callerID, _ := url.QueryUnescape(id)
		caller, err := p.storage.client(ctx, callerID)
		owner, ok := ir.GetAccessRequester().GetClient().(*fositeClient)
		if err != nil || !ok || caller.c.Tenant != owner.c.Tenant {
			p.oauth.WriteIntrospectionResponse(ctx, w, &fosite.IntrospectionResponse{Active: false})
			return
		}
	}
	p.oauth.WriteIntrospectionResponse(ctx, w, ir)
}

// AccessToken describes a valid access token, for the API's authentication.
type AccessToken struct {
	ClientID     string             // the client it was issued to (its public client_id)
	ClientUUID   ClientUUID         // that client's id in its organization (Client.ID)
	ClientTenant coditect.TenantID  // the organization that registered the client
	Tenant       coditect.TenantID  // client credentials: the organization the token acts for; else zero
	AccountID    coditect.AccountID // authorization code: the user the token acts for; else zero
	Scopes       []string
	ExpiresAt    time.Time
}

// VerifyAccessToken checks an access token issued by this provider: it must exist, be
// unexpired, unrevoked, and its client must not be revoked. Any failure is
// CodeUnauthorized. Refresh tokens are not access tokens.
func (p *Provider) VerifyAccessToken(ctx context.Context, raw string) (AccessToken, error) {
	bad := coditect.Errorf(coditect.CodeUnauthorized, "invalid or expired access token")
	if raw == "" || len(raw) > 512 {
		return AccessToken{}, bad
	}
	ctx = withClientCache(ctx)
	use, ar, err := p.oauth.IntrospectToken(ctx, raw, fosite.AccessToken, newSession())
	if err != nil {
		// fosite reports storage failures as an invalid token; a database outage is not
		// the caller's fault, so it surfaces as itself (unavailable → 503).
		var ce *coditect.Error
		if errors.As(err, &ce) && (ce.Code == coditect.CodeUnavailable || coditect.ErrorKind(ce) == coditect.CodeInternal) {
			p.log.ErrorContext(ctx, "oauth: verify access token", "err", err)
			return AccessToken{}, &coditect.Error{Code: coditect.CodeUnavailable, Message: "cannot check the access token now", Err: err}
		}
		return AccessToken{}, bad
	}
	if use != fosite.AccessToken {
		return AccessToken{}, bad
	}
	c, ok := ar.GetClient().(*fositeClient)
	s, ok2 := ar.GetSession().(*session)
	if !ok || !ok2 {
		return AccessToken{}, bad
	}
	out := AccessToken{ClientID: c.GetID(), ClientUUID: c.c.ID, ClientTenant: c.c.Tenant, Scopes: ar.GetGrantedScopes(),
		ExpiresAt: s.GetExpiresAt(fosite.AccessToken)}
	if s.Tenant != "" {
		if out.Tenant, err = coditect.ParseID[coditect.TenantID](s.Tenant); err != nil {
			return AccessToken{}, bad
		}
	}
	if s.Subject != "" {
		if out.AccountID, err = coditect.ParseID[coditect.AccountID](s.Subject); err != nil {
			return AccessToken{}, bad
		}
	}
	return out, nil
}

// handleUserinfo is the OpenID Connect userinfo endpoint: a bearer access token with
// the openid scope gets sub, and email and name as its scopes allow.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="coditect"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "A bearer access token is required."})
		return
	}
	at, err := p.VerifyAccessToken(ctx, strings.TrimSpace(raw))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="coditect", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is invalid, expired or revoked."})
		return
	}
	has := func(s string) bool { return fosite.Arguments(at.Scopes).Has(s) }
	if at.AccountID.IsZero() || !has(ScopeOpenID) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="coditect", error="insufficient_scope", scope="openid"`)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The token was not issued to a user with the openid scope."})
		return
	}
	email, name, err := p.auth.Account(ctx, at.AccountID)
	if err != nil {
		if coditect.IsNotFound(err) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="coditect", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The account no longer exists."})
			return
		}
		p.log.ErrorContext(ctx, "oauth: userinfo", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	out := map[string]any{"sub": at.AccountID.String()}
	if has(ScopeEmail) {
		out["email"] = email
	}
	if has(ScopeProfile) {
		out["name"] = name
	}
	writeJSON(w, http.StatusOK, out)
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	iss := p.cfg.Issuer
	secretMethods := []string{"client_secret_basic", "client_secret_post"}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + PathAuthorize,
		"token_endpoint":                                iss + PathToken,
		"userinfo_endpoint":                             iss + PathUserinfo,
		"jwks_uri":                                      iss + PathJWKS,
		"revocation_endpoint":                           iss + PathRevoke,
		"introspection_endpoint":                        iss + PathIntrospect,
		"scopes_supported":                              p.scopes,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         algorithms(p.keys()),
		"token_endpoint_auth_methods_supported":         append(secretMethods, "none"),
		"revocation_endpoint_auth_methods_supported":    append(secretMethods, "none"),
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"code_challenge_methods_supported":              []string{"S256"},
		"prompt_values_supported":                       []string{"none", "login", "consent", "select_account"},
		"claims_supported":                              []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email", "name"},
		"claims_parameter_supported":                    false,
		"request_parameter_supported":                   false,
		"request_uri_parameter_supported":               false,
	})
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := p.keys().JWKS()
	if err != nil {
		p.log.ErrorContext(r.Context(), "oauth: jwks", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
