package oauth

import (
	"encoding/json"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// session is the fosite session of every grant: the subject (an account id, or empty
// for client credentials), the organization a client-credentials token acts for, the
// token expiries and the ID token's claims. It is stored as JSON with each code and
// token.
type session struct {
	Subject   string                         `json:"sub,omitempty"`
	Tenant    string                         `json:"tenant_id,omitempty"`
	ExpiresAt map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
	Claims    *jwt.IDTokenClaims             `json:"id_token_claims,omitempty"`
	Headers   *jwt.Headers                   `json:"id_token_headers,omitempty"`
}

var (
	_ fosite.Session            = (*session)(nil)
	_ openid.Session            = (*session)(nil)
	_ fosite.ExtraClaimsSession = (*session)(nil)
)

func newSession() *session {
	return &session{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
}

// SetExpiresAt implements fosite.Session.
func (s *session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

// GetExpiresAt implements fosite.Session.
func (s *session) GetExpiresAt(key fosite.TokenType) time.Time {
	if s == nil || s.ExpiresAt == nil {
		return time.Time{}
	}
	return s.ExpiresAt[key]
}

// GetUsername implements fosite.Session; introspection shows no username.
func (s *session) GetUsername() string { return "" }

// GetSubject implements fosite.Session.
func (s *session) GetSubject() string {
	if s == nil {
		return ""
	}
	return s.Subject
}

// Clone implements fosite.Session with a deep copy.
func (s *session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic("oauth: session does not marshal: " + err.Error())
	}
	out := &session{}
	if err := json.Unmarshal(b, out); err != nil {
		panic("oauth: session does not unmarshal: " + err.Error())
	}
	return out
}

// IDTokenClaims implements openid.Session.
func (s *session) IDTokenClaims() *jwt.IDTokenClaims {
	if s.Claims == nil {
		s.Claims = &jwt.IDTokenClaims{}
	}
	return s.Claims
}

// IDTokenHeaders implements openid.Session.
func (s *session) IDTokenHeaders() *jwt.Headers {
	if s.Headers == nil {
		s.Headers = &jwt.Headers{}
	}
	return s.Headers
}

// GetExtraClaims implements fosite.ExtraClaimsSession: introspection shows tenant_id
// for client-credentials tokens.
func (s *session) GetExtraClaims() map[string]any {
	if s == nil || s.Tenant == "" {
		return nil
	}
	return map[string]any{"tenant_id": s.Tenant}
}
