package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/coditect/coditect/internal/coditect"
)

const (
	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	Leeway = 30 * time.Second
	// MaxTokenSize is the longest token string Verify will look at; longer input is
	// rejected before any decoding.
	MaxTokenSize = 8 << 10
	// MaxTTL is the longest access token lifetime NewIssuer accepts: access tokens are
	// short-lived, long sessions live in refresh tokens.
	MaxTTL = time.Hour
)

// Claims are the contents of a verified access token.
type Claims struct {
	Issuer    string             // "iss": the issuer URL
	Subject   coditect.AccountID // "sub": the account the token acts for
	SessionID coditect.SessionID // "sid": the login session; zero for tokens without one
	Audience  []string           // "aud"
	IssuedAt  time.Time          // "iat"
	NotBefore time.Time          // "nbf"
	Expiry    time.Time          // "exp"
	ID        string             // "jti": unique per token
	Scope     string             // "scope": space-separated OAuth scopes; optional
	ClientID  string             // "client_id": the OAuth client the token was issued to; optional
	TenantID  coditect.TenantID  // "tenant_id": the organization a client-credentials token is bound to; optional
}

// wireClaims is the JSON payload of a token.
type wireClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	SessionID string   `json:"sid,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	TenantID  string   `json:"tenant_id,omitempty"`
}

// audience is "aud": a single string when there is one value, else an array (RFC 7519).
type audience []string

// MarshalJSON implements json.Marshaler.
func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// Issuer issues and verifies access tokens. It is safe for concurrent use.
type Issuer struct {
	keys     func() KeySet
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// IssuerOption configures an Issuer.
type IssuerOption func(*Issuer)

// WithAudience sets the audience written into every token and required by Verify. The
// default is the issuer itself: tokens meant for CODITECT's own API.
func WithAudience(aud string) IssuerOption {
	return func(i *Issuer) { i.audience = aud }
}

// NewIssuer returns an Issuer that signs with keys().Current and verifies with every key
// in keys(). keys is called once per Issue or Verify, so a Rotator's Keys method can
// swap key sets underneath it. issuer is the "iss" value (the public base URL); ttl is
// the token lifetime, at most MaxTTL; now is the clock (time.Now if nil).
func NewIssuer(keys func() KeySet, issuer string, ttl time.Duration, now func() time.Time, opts ...IssuerOption) (*Issuer, error) {
	if keys == nil {
		return nil, errors.New("token: NewIssuer: keys is nil")
	}
	if issuer == "" {
		return nil, errors.New("token: NewIssuer: empty issuer")
	}
	if ttl < time.Second || ttl > MaxTTL {
		return nil, fmt.Errorf("token: NewIssuer: ttl %v is outside 1s..%v", ttl, MaxTTL)
	}
	if now == nil {
		now = time.Now
	}
	i := &Issuer{keys: keys, issuer: issuer, audience: issuer, ttl: ttl, now: now}
	for _, o := range opts {
		o(i)
	}
	if i.audience == "" {
		return nil, errors.New("token: NewIssuer: empty audience")
	}
	return i, nil
}

// TTL returns the lifetime of the tokens the Issuer issues (for "expires_in").
func (i *Issuer) TTL() time.Duration { return i.ttl }

// IssueOption adds an optional claim to one token.
type IssueOption func(*issueExtras)

type issueExtras struct {
	scope    string
	clientID string
	tenant   coditect.TenantID
}

// WithScope sets the "scope" claim (space-separated OAuth scopes).
func WithScope(scope string) IssueOption {
	return func(e *issueExtras) { e.scope = scope }
}

// WithClientID sets the "client_id" claim: the OAuth client the token is issued to.
func WithClientID(clientID string) IssueOption {
	return func(e *issueExtras) { e.clientID = clientID }
}

// WithTenant binds the token to one organization ("tenant_id"), as for
// client-credentials tokens.
func WithTenant(tenant coditect.TenantID) IssueOption {
	return func(e *issueExtras) { e.tenant = tenant }
}

// Issue signs a new access token for the account's session and returns it with its
// claims. sessionID may be zero for tokens not tied to a login session. Failures are
// *coditect.Error with CodeInternal.
func (i *Issuer) Issue(accountID coditect.AccountID, sessionID coditect.SessionID, extra ...IssueOption) (string, Claims, error) {
	if accountID.IsZero() {
		return "", Claims{}, issueError(errors.New("zero account id"))
	}
	var ex issueExtras
	for _, o := range extra {
		o(&ex)
	}
	now := i.now()
	ks := i.keys()
	if ks.IsZero() {
		return "", Claims{}, issueError(errors.New("no signing key"))
	}
	if ks.Current().expiredAt(now) {
		return "", Claims{}, issueError(errors.New("signing key expired"))
	}
	iat := now.UTC().Truncate(time.Second)
	c := Claims{
		Issuer:    i.issuer,
		Subject:   accountID,
		SessionID: sessionID,
		Audience:  []string{i.audience},
		IssuedAt:  iat,
		NotBefore: iat,
		Expiry:    iat.Add(i.ttl).Truncate(time.Second),
		ID:        rand.Text(),
		Scope:     ex.scope,
		ClientID:  ex.clientID,
		TenantID:  ex.tenant,
	}
	w := wireClaims{
		Issuer:    c.Issuer,
		Subject:   c.Subject.String(),
		Audience:  audience(c.Audience),
		Expiry:    c.Expiry.Unix(),
		NotBefore: c.NotBefore.Unix(),
		IssuedAt:  c.IssuedAt.Unix(),
		ID:        c.ID,
		ClientID:  c.ClientID,
		Scope:     c.Scope,
	}
	if !c.SessionID.IsZero() {
		w.SessionID = c.SessionID.String()
	}
	if !c.TenantID.IsZero() {
		w.TenantID = c.TenantID.String()
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", Claims{}, issueError(err)
	}
	jws, err := ks.s.signer.Sign(payload)
	if err != nil {
		return "", Claims{}, issueError(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", Claims{}, issueError(err)
	}
	if len(tok) > MaxTokenSize {
		return "", Claims{}, issueError(errors.New("token longer than MaxTokenSize"))
	}
	return tok, c, nil
}

func issueError(cause error) error {
	return &coditect.Error{Code: coditect.CodeInternal, Message: "could not issue access token", Err: cause}
}

// errExpired marks a verification failure caused only by the token's age.
var errExpired = errors.New("token expired")

// rejected is the error Verify returns: CodeUnauthorized with a message that tells the
// caller nothing beyond "invalid" or "expired". The cause is kept for logs.
func rejected(cause string) error {
	return &coditect.Error{Code: coditect.CodeUnauthorized, Message: "invalid access token", Err: errors.New(cause)}
}

// IsExpired reports whether err is Verify's answer for a token that was valid but has
// expired, so a client should refresh rather than sign in again.
func IsExpired(err error) bool { return errors.Is(err, errExpired) }

// Verify checks a token and returns its claims. It accepts only compact JWS tokens
// with a "typ" of at+jwt, a "kid" naming a key of the current key set, the algorithm of
// that key (never "none" or HMAC) and a valid signature, issued by this issuer for this
// audience, and inside its validity window (with Leeway). Every failure is a
// *coditect.Error with CodeUnauthorized; IsExpired tells an expired token apart.
func (i *Issuer) Verify(token string) (Claims, error) {
	if len(token) == 0 || len(token) > MaxTokenSize {
		return Claims{}, rejected("token empty or too large")
	}
	headerSeg, ok := compactHeader(token)
	if !ok {
		return Claims{}, rejected("not a compact JWS")
	}
	hdr, err := decodeSegment(headerSeg)
	if err != nil {
		return Claims{}, rejected("malformed header")
	}
	var alg, kid, typ string
	for name, raw := range hdr {
		var dst *string
		switch name {
		case "alg":
			dst = &alg
		case "kid":
			dst = &kid
		case "typ":
			dst = &typ
		default:
			return Claims{}, rejected("unexpected header parameter")
		}
		if isNull(raw) || json.Unmarshal(raw, dst) != nil {
			return Claims{}, rejected("malformed header parameter")
		}
	}
	if !strings.EqualFold(typ, accessTokenType) && !strings.EqualFold(typ, "application/"+accessTokenType) {
		return Claims{}, rejected("wrong typ")
	}
	if kid == "" {
		return Claims{}, rejected("missing kid")
	}
	vk, ok := i.keys().lookup(kid)
	if !ok {
		return Claims{}, rejected("unknown kid")
	}
	if Algorithm(alg) != vk.alg {
		return Claims{}, rejected("alg does not match key")
	}
	now := i.now()
	if vk.key.expiredAt(now) {
		return Claims{}, rejected("signing key expired")
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{vk.alg.joseAlg()})
	if err != nil || len(jws.Signatures) != 1 || jws.Signatures[0].Protected.KeyID != kid {
		return Claims{}, rejected("malformed JWS")
	}
	payload, err := jws.Verify(vk.public)
	if err != nil {
		return Claims{}, rejected("bad signature")
	}
	c, err := parseClaims(payload)
	if err != nil {
		return Claims{}, rejected(err.Error())
	}
	switch {
	case c.Issuer != i.issuer:
		return Claims{}, rejected("wrong issuer")
	case !slices.Contains(c.Audience, i.audience):
		return Claims{}, rejected("wrong audience")
	case now.Add(Leeway).Before(c.IssuedAt):
		return Claims{}, rejected("issued in the future")
	case !c.NotBefore.IsZero() && now.Add(Leeway).Before(c.NotBefore):
		return Claims{}, rejected("not yet valid")
	case !now.Before(c.Expiry.Add(Leeway)):
		return Claims{}, &coditect.Error{Code: coditect.CodeUnauthorized, Message: "access token expired", Err: errExpired}
	}
	return c, nil
}

// compactHeader checks that token is three base64url segments (header, payload,
// signature, none empty, nothing but the base64url alphabet) and returns the header.
func compactHeader(token string) (string, bool) {
	dots := 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			if i == 0 || token[i-1] == '.' {
				return "", false
			}
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return "", false
		}
	}
	if dots != 2 || token[len(token)-1] == '.' {
		return "", false
	}
	header, _, _ := strings.Cut(token, ".")
	return header, true
}

// decodeSegment decodes one canonical base64url segment holding a JSON object.
func decodeSegment(seg string) (map[string]json.RawMessage, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// parseClaims reads a verified payload. Members are matched by exact name (unlike
// encoding/json's case-insensitive matching) and duplicates are rejected; unknown
// members are ignored.
func parseClaims(payload []byte) (Claims, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return Claims{}, errors.New("malformed claims")
	}
	var w wireClaims
	fields := []struct {
		name     string
		dst      any
		required bool
	}{
		{"iss", &w.Issuer, true},
		{"sub", &w.Subject, true},
		{"aud", &w.Audience, true},
		{"exp", &w.Expiry, true},
		{"iat", &w.IssuedAt, true},
		{"jti", &w.ID, true},
		{"nbf", &w.NotBefore, false},
		{"sid", &w.SessionID, false},
		{"client_id", &w.ClientID, false},
		{"scope", &w.Scope, false},
		{"tenant_id", &w.TenantID, false},
	}
	for _, f := range fields {
		raw, ok := m[f.name]
		if !ok {
			if f.required {
				return Claims{}, fmt.Errorf("missing claim %s", f.name)
			}
			continue
		}
		if isNull(raw) || json.Unmarshal(raw, f.dst) != nil {
			return Claims{}, fmt.Errorf("malformed claim %s", f.name)
		}
	}
	c := Claims{
		Issuer:   w.Issuer,
		Audience: []string(w.Audience),
		IssuedAt: time.Unix(w.IssuedAt, 0).UTC(),
		Expiry:   time.Unix(w.Expiry, 0).UTC(),
		ID:       w.ID,
		ClientID: w.ClientID,
		Scope:    w.Scope,
	}
	if _, ok := m["nbf"]; ok {
		c.NotBefore = time.Unix(w.NotBefore, 0).UTC()
	}
	if c.ID == "" {
		return Claims{}, errors.New("empty jti")
	}
	if c.Subject, err = coditect.ParseID[coditect.AccountID](w.Subject); err != nil || c.Subject.IsZero() {
		return Claims{}, errors.New("malformed sub")
	}
	if w.SessionID != "" {
		if c.SessionID, err = coditect.ParseID[coditect.SessionID](w.SessionID); err != nil {
			return Claims{}, errors.New("malformed sid")
		}
	}
	if w.TenantID != "" {
		if c.TenantID, err = coditect.ParseID[coditect.TenantID](w.TenantID); err != nil {
			return Claims{}, errors.New("malformed tenant_id")
		}
	}
	return c, nil
}
