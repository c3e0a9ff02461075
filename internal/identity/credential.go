package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/coditect/coditect/internal/coditect"
)

// A session credential (refresh token or browser cookie) names its account and session
// so it is found by key (sessions are sharded by account), plus a 256-bit secret whose
// SHA-256 is all the database keeps. SHA-256 suffices: the secret is random, not a
// password, so there is nothing to brute-force.
type credential struct {
	kind    string // "rt" (refresh token) or "cs" (cookie session)
	account coditect.AccountID
	session coditect.SessionID
	secret  [32]byte
}

func newCredential(kind string, account coditect.AccountID, session coditect.SessionID) credential {
	c := credential{kind: kind, account: account, session: session}
	_, _ = rand.Read(c.secret[:])
	return c
}

func (c credential) String() string {
	var raw [64]byte
	copy(raw[:16], c.account[:])
	copy(raw[16:32], c.session[:])
	copy(raw[32:], c.secret[:])
	return c.kind + "_" + base64.RawURLEncoding.EncodeToString(raw[:])
}

func (c credential) hash() []byte {
	h := sha256.Sum256(c.secret[:])
	return h[:]
}

func parseCredential(kind, s string) (credential, bool) {
	rest, ok := strings.CutPrefix(s, kind+"_")
	if !ok || len(rest) != 86 {
		return credential{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) != 64 {
		return credential{}, false
	}
	c := credential{kind: kind}
	copy(c.account[:], raw[:16])
	copy(c.session[:], raw[16:32])
	copy(c.secret[:], raw[32:])
	return c, !c.account.IsZero() && !c.session.IsZero()
}

// randomToken returns a URL-safe random token and its SHA-256, for single-use links.
func randomToken(prefix string) (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}
