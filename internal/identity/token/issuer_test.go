package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"hash"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/token"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range []token.Algorithm{token.ES256, token.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			key := mustKey(t, alg)
			iss := mustIssuer(t, staticKeys(mustSet(t, key)), t0.Add(500*time.Millisecond))
			account := coditect.NewID[coditect.AccountID]()
			session := coditect.NewID[coditect.SessionID]()
			tenant := coditect.NewID[coditect.TenantID]()

			tok, issued, err := iss.Issue(account, session,
				token.WithScope("openid projects:read"), token.WithTenant(tenant), token.WithClientID("cli"))
			require.NoError(t, err)
			require.Equal(t, token.Claims{
				Issuer:    testIssuer,
				Subject:   account,
				SessionID: session,
				Audience:  []string{testIssuer},
				IssuedAt:  t0,
				NotBefore: t0,
				Expiry:    t0.Add(testTTL),
				ID:        issued.ID,
				Scope:     "openid projects:read",
				ClientID:  "cli",
				TenantID:  tenant,
			}, issued)
			require.NotEmpty(t, issued.ID)

			h := decodeJSON(t, segments(t, tok)[0])
			require.Equal(t, map[string]any{"alg": string(alg), "kid": key.ID, "typ": "at+jwt"}, h)
			p := decodeJSON(t, segments(t, tok)[1])
			require.Equal(t, account.String(), p["sub"])
			require.Equal(t, session.String(), p["sid"])
			require.Equal(t, tenant.String(), p["tenant_id"])

			got, err := iss.Verify(tok)
			require.NoError(t, err)
			require.Equal(t, issued, got)

			// A second token gets a fresh jti.
			tok2, issued2, err := iss.Issue(account, session)
			require.NoError(t, err)
			require.NotEqual(t, tok, tok2)
			require.NotEqual(t, issued.ID, issued2.ID)
			got2, err := iss.Verify(tok2)
			require.NoError(t, err)
			require.Empty(t, got2.Scope)
			require.True(t, got2.TenantID.IsZero())
		})
	}
}

func TestIssueWithoutSession(t *testing.T) {
	t.Parallel()
	iss := mustIssuer(t, staticKeys(mustSet(t, mustKey(t, token.ES256))), t0)
	tok, _, err := iss.Issue(coditect.NewID[coditect.AccountID](), coditect.SessionID{})
	require.NoError(t, err)
	require.NotContains(t, decodeJSON(t, segments(t, tok)[1]), "sid")
	c, err := iss.Verify(tok)
	require.NoError(t, err)
	require.True(t, c.SessionID.IsZero())
}

func TestVerifyExpired(t *testing.T) {
	t.Parallel()
	keys := staticKeys(mustSet(t, mustKey(t, token.ES256)))
	tok := mustIssue(t, mustIssuer(t, keys, t0))

	_, err := mustIssuer(t, keys, t0.Add(testTTL+29*time.Second)).Verify(tok)
	require.NoError(t, err, "inside the leeway")

	_, err = mustIssuer(t, keys, t0.Add(testTTL+30*time.Second)).Verify(tok)
	require.Error(t, err)
	var e *coditect.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, coditect.CodeUnauthorized, e.Code)
	require.Equal(t, "access token expired", e.Message)
	require.True(t, token.IsExpired(err))

	_, err = mustIssuer(t, keys, t0.Add(24*time.Hour)).Verify(tok)
	require.True(t, token.IsExpired(err))
}

func TestVerifyNotYetValid(t *testing.T) {
	t.Parallel()
	keys := staticKeys(mustSet(t, mustKey(t, token.EdDSA)))
	verifier := mustIssuer(t, keys, t0)

	// An issuer whose clock runs 20 s ahead is tolerated, 2 minutes is not.
	_, err := verifier.Verify(mustIssue(t, mustIssuer(t, keys, t0.Add(20*time.Second))))
	require.NoError(t, err)
	_, err = verifier.Verify(mustIssue(t, mustIssuer(t, keys, t0.Add(2*time.Minute))))
	requireRejected(t, err)

	// nbf in the future with a current iat, signed by the real key.
	key := keys().Current()
	c := validClaims(t0)
	c["nbf"] = t0.Add(time.Minute).Unix()
	_, err = verifier.Verify(signRaw(t, key.Private, header(t, "EdDSA", key.ID, "at+jwt"), mustJSON(t, c)))
	requireRejected(t, err)

	// iat in the future, no nbf.
	c = validClaims(t0)
	delete(c, "nbf")
	c["iat"] = t0.Add(time.Minute).Unix()
	_, err = verifier.Verify(signRaw(t, key.Private, header(t, "EdDSA", key.ID, "at+jwt"), mustJSON(t, c)))
	requireRejected(t, err)

	// The same hand-built token shape with sane times verifies, so the checks above
	// failed for the times alone.
	_, err = verifier.Verify(signRaw(t, key.Private, header(t, "EdDSA", key.ID, "at+jwt"), mustJSON(t, validClaims(t0))))
	require.NoError(t, err)
}

func TestVerifyWrongIssuerOrAudience(t *testing.T) {
	t.Parallel()
	keys := staticKeys(mustSet(t, mustKey(t, token.ES256)))
	verifier := mustIssuer(t, keys, t0)

	other, err := token.NewIssuer(keys, "https://evil.test", testTTL, fixed(t0), token.WithAudience(testIssuer))
	require.NoError(t, err)
	_, err = verifier.Verify(mustIssue(t, other))
	requireRejected(t, err)

	otherAud := mustIssuer(t, keys, t0, token.WithAudience("https://another-api.test"))
	tok := mustIssue(t, otherAud)
	_, err = verifier.Verify(tok)
	requireRejected(t, err)
	_, err = otherAud.Verify(tok)
	require.NoError(t, err)
}

func TestVerifyTampered(t *testing.T) {
	t.Parallel()
	for _, alg := range []token.Algorithm{token.ES256, token.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			iss := mustIssuer(t, staticKeys(mustSet(t, mustKey(t, alg))), t0)
			tok := mustIssue(t, iss)
			seg := segments(t, tok)

			// Flip one character in the middle of the claims segment.
			payload := []byte(seg[1])
			mid := len(payload) / 2
			if payload[mid] == 'A' {
				payload[mid] = 'B'
			} else {
				payload[mid] = 'A'
			}
			_, err := iss.Verify(seg[0] + "." + string(payload) + "." + seg[2])
			requireRejected(t, err)

			// Swap the subject for another account, keeping the JSON valid.
			claims := decodeJSON(t, seg[1])
			claims["sub"] = coditect.NewID[coditect.AccountID]().String()
			_, err = iss.Verify(seg[0] + "." + b64.EncodeToString([]byte(mustJSON(t, claims))) + "." + seg[2])
			requireRejected(t, err)

			// Extend the expiry.
			claims = decodeJSON(t, seg[1])
			claims["exp"] = t0.Add(365 * 24 * time.Hour).Unix()
			_, err = iss.Verify(seg[0] + "." + b64.EncodeToString([]byte(mustJSON(t, claims))) + "." + seg[2])
			requireRejected(t, err)

			// Flip one bit of the signature.
			sig, err := b64.DecodeString(seg[2])
			require.NoError(t, err)
			sig[len(sig)/2] ^= 0x01
			_, err = iss.Verify(seg[0] + "." + seg[1] + "." + b64.EncodeToString(sig))
			requireRejected(t, err)

			// Truncate the signature.
			_, err = iss.Verify(seg[0] + "." + seg[1] + "." + b64.EncodeToString(sig[:len(sig)-1]))
			requireRejected(t, err)

			// Change the header (the signature covers it too).
			h := decodeJSON(t, seg[0])
			h["typ"] = "application/at+jwt"
			_, err = iss.Verify(b64.EncodeToString([]byte(mustJSON(t, h))) + "." + seg[1] + "." + seg[2])
			requireRejected(t, err)

			// The untouched token still verifies.
			_, err = iss.Verify(tok)
			require.NoError(t, err)
		})
	}
}

func TestVerifyForeignKey(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.ES256)
	verifier := mustIssuer(t, staticKeys(mustSet(t, key)), t0)

	// A key that is not in the set, under its own kid.
	_, err := verifier.Verify(mustIssue(t, mustIssuer(t, staticKeys(mustSet(t, mustKey(t, token.ES256))), t0)))
	requireRejected(t, err)

	// A foreign key that claims the kid of the real key.
	impostor := mustKey(t, token.ES256)
	impostor.ID = key.ID
	_, err = verifier.Verify(mustIssue(t, mustIssuer(t, staticKeys(mustSet(t, impostor)), t0)))
	requireRejected(t, err)

	// A foreign EdDSA key claiming the real (ES256) kid.
	edImpostor := mustKey(t, token.EdDSA)
	_, err = verifier.Verify(signRaw(t, edImpostor.Private, header(t, "EdDSA", key.ID, "at+jwt"), mustJSON(t, validClaims(t0))))
	requireRejected(t, err)
	_, err = verifier.Verify(signRaw(t, edImpostor.Private, header(t, "ES256", key.ID, "at+jwt"), mustJSON(t, validClaims(t0))))
	requireRejected(t, err)
}

func TestVerifyAlgNone(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.ES256)
	verifier := mustIssuer(t, staticKeys(mustSet(t, key)), t0)
	payload := b64.EncodeToString([]byte(mustJSON(t, validClaims(t0))))

	for _, alg := range []string{"none", "None", "NONE"} {
		h := b64.EncodeToString([]byte(header(t, alg, key.ID, "at+jwt")))
		for _, tok := range []string{h + "." + payload + ".", h + "." + payload, h + "." + payload + ".AAAA"} {
			_, err := verifier.Verify(tok)
			requireRejected(t, err)
		}
	}

	// The right alg with an empty signature.
	h := b64.EncodeToString([]byte(header(t, "ES256", key.ID, "at+jwt")))
	_, err := verifier.Verify(h + "." + payload + ".")
	requireRejected(t, err)

	// No alg at all, validly signed otherwise.
	_, err = verifier.Verify(signRaw(t, key.Private, header(t, "", key.ID, "at+jwt"), mustJSON(t, validClaims(t0))))
	requireRejected(t, err)
}

func TestVerifyHMACWithPublicKey(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.ES256)
	verifier := mustIssuer(t, staticKeys(mustSet(t, key)), t0)

	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ecdh, err := key.Public().(*ecdsa.PublicKey).Bytes()
	require.NoError(t, err)
	jwks, err := mustSet(t, key).JWKS()
	require.NoError(t, err)
	var set struct{ Keys []json.RawMessage }
	require.NoError(t, json.Unmarshal(jwks, &set))

	secrets := map[string][]byte{"pem": pemBytes, "der": der, "point": ecdh, "jwk": set.Keys[0], "jwks": jwks}
	payload := b64.EncodeToString([]byte(mustJSON(t, validClaims(t0))))
	hashes := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}
	for _, secret := range secrets {
		for alg, h := range hashes {
			input := b64.EncodeToString([]byte(header(t, alg, key.ID, "at+jwt"))) + "." + payload
			mac := hmac.New(h, secret)
			mac.Write([]byte(input))
			_, err := verifier.Verify(input + "." + b64.EncodeToString(mac.Sum(nil)))
			requireRejected(t, err)
		}
	}
}

func TestVerifyHeaderChecks(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.ES256)
	verifier := mustIssuer(t, staticKeys(mustSet(t, key)), t0)
	claims := mustJSON(t, validClaims(t0))

	// Sanity: the hand-built shape verifies with the right header.
	_, err := verifier.Verify(signRaw(t, key.Private, header(t, "ES256", key.ID, "at+jwt"), claims))
	require.NoError(t, err)
	_, err = verifier.Verify(signRaw(t, key.Private, header(t, "ES256", key.ID, "application/at+jwt"), claims))
	require.NoError(t, err, "RFC 9068 allows the full media type")

	bad := map[string]string{
		"missing kid":        header(t, "ES256", "", "at+jwt"),
		"unknown kid":        header(t, "ES256", "no-such-key", "at+jwt"),
		"missing typ":        header(t, "ES256", key.ID, ""),
		"id token typ":       header(t, "ES256", key.ID, "JWT"),
		"other typ":          header(t, "ES256", key.ID, "dpop+jwt"),
		"alg mismatch":       header(t, "ES384", key.ID, "at+jwt"),
		"RS256":              header(t, "RS256", key.ID, "at+jwt"),
		"duplicate alg":      `{"alg":"ES256","alg":"none","kid":"` + key.ID + `","typ":"at+jwt"}`,
		"duplicate kid":      `{"alg":"ES256","kid":"other","kid":"` + key.ID + `","typ":"at+jwt"}`,
		"null kid":           `{"alg":"ES256","kid":null,"typ":"at+jwt"}`,
		"numeric kid":        `{"alg":"ES256","kid":1,"typ":"at+jwt"}`,
		"crit":               `{"alg":"ES256","kid":"` + key.ID + `","typ":"at+jwt","crit":["exp"],"exp":1}`,
		"b64 false":          `{"alg":"ES256","kid":"` + key.ID + `","typ":"at+jwt","b64":false,"crit":["b64"]}`,
		"embedded jwk":       `{"alg":"ES256","kid":"` + key.ID + `","typ":"at+jwt","jwk":{}}`,
		"jku":                `{"alg":"ES256","kid":"` + key.ID + `","typ":"at+jwt","jku":"https://evil.test/jwks"}`,
		"not an object":      `["ES256"]`,
		"trailing data":      header(t, "ES256", key.ID, "at+jwt") + `{}`,
		"case-variant names": `{"ALG":"ES256","KID":"` + key.ID + `","TYP":"at+jwt"}`,
	}
	for name, h := range bad {
		_, err := verifier.Verify(signRaw(t, key.Private, h, claims))
		require.Error(t, err, name)
		requireRejected(t, err)
	}

	// go-jose signing without a kid (what a careless re-implementation would emit).
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.Private},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	require.NoError(t, err)
	obj, err := signer.Sign([]byte(claims))
	require.NoError(t, err)
	noKid, err := obj.CompactSerialize()
	require.NoError(t, err)
	_, err = verifier.Verify(noKid)
	requireRejected(t, err)
}

func TestVerifyClaimChecks(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.EdDSA)
	verifier := mustIssuer(t, staticKeys(mustSet(t, key)), t0)
	h := header(t, "EdDSA", key.ID, "at+jwt")
	sign := func(payload string) string { return signRaw(t, key.Private, h, payload) }

	mutate := func(f func(map[string]any)) string {
		c := validClaims(t0)
		f(c)
		return mustJSON(t, c)
	}
	bad := map[string]string{
		"no sub":         mutate(func(c map[string]any) { delete(c, "sub") }),
		"zero sub":       mutate(func(c map[string]any) { c["sub"] = "00000000-0000-0000-0000-000000000000" }),
		"non-uuid sub":   mutate(func(c map[string]any) { c["sub"] = "admin" }),
		"no exp":         mutate(func(c map[string]any) { delete(c, "exp") }),
		"null exp":       mutate(func(c map[string]any) { c["exp"] = nil }),
		"string exp":     mutate(func(c map[string]any) { c["exp"] = "never" }),
		"no iat":         mutate(func(c map[string]any) { delete(c, "iat") }),
		"no iss":         mutate(func(c map[string]any) { delete(c, "iss") }),
		"no aud":         mutate(func(c map[string]any) { delete(c, "aud") }),
		"no jti":         mutate(func(c map[string]any) { delete(c, "jti") }),
		"bad sid":        mutate(func(c map[string]any) { c["sid"] = "x" }),
		"bad tenant":     mutate(func(c map[string]any) { c["tenant_id"] = "x" }),
		"upper-case iss": strings.Replace(mutate(func(c map[string]any) {}), `"iss"`, `"ISS"`, 1),
		"duplicate sub": strings.Replace(mutate(func(c map[string]any) {}), `"sub":`,
			`"sub":"`+coditect.NewID[coditect.AccountID]().String()+`","sub":`, 1),
		"not an object": `[]`,
		"not JSON":      `hello`,
	}
	for name, payload := range bad {
		_, err := verifier.Verify(sign(payload))
		require.Error(t, err, name)
		requireRejected(t, err)
	}

	// An audience array containing ours is fine; unknown claims are ignored.
	ok := mutate(func(c map[string]any) {
		c["aud"] = []string{"https://other.test", testIssuer}
		c["future_claim"] = true
	})
	got, err := verifier.Verify(sign(ok))
	require.NoError(t, err)
	require.Equal(t, []string{"https://other.test", testIssuer}, got.Audience)
}

func TestVerifyMalformedInput(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.ES256)
	iss := mustIssuer(t, staticKeys(mustSet(t, key)), t0)
	tok := mustIssue(t, iss)
	seg := segments(t, tok)

	for name, in := range map[string]string{
		"empty":              "",
		"one part":           seg[0],
		"two parts":          seg[0] + "." + seg[1],
		"four parts":         tok + "." + seg[2],
		"leading space":      " " + tok,
		"trailing newline":   tok + "\n",
		"inner newline":      seg[0] + ".\n" + seg[1] + "." + seg[2],
		"padding":            seg[0] + "=." + seg[1] + "." + seg[2],
		"std base64":         strings.NewReplacer("-", "+", "_", "/").Replace(tok) + "+/",
		"empty payload":      seg[0] + ".." + seg[2],
		"bearer prefix":      "Bearer " + tok,
		"JSON serialization": `{"payload":"` + seg[1] + `","protected":"` + seg[0] + `","signature":"` + seg[2] + `"}`,
	} {
		_, err := iss.Verify(in)
		require.Error(t, err, name)
		requireRejected(t, err)
	}
	_, err := iss.Verify(tok)
	require.NoError(t, err)
}

func TestVerifyOversized(t *testing.T) {
	t.Parallel()
	key := mustKey(t, token.ES256)
	verifier := mustIssuer(t, staticKeys(mustSet(t, key)), t0)

	// Validly signed, but over the limit.
	c := validClaims(t0)
	c["scope"] = strings.Repeat("projects:read ", 700)
	big := signRaw(t, key.Private, header(t, "ES256", key.ID, "at+jwt"), mustJSON(t, c))
	require.Greater(t, len(big), token.MaxTokenSize)
	_, err := verifier.Verify(big)
	requireRejected(t, err)

	// Garbage of a megabyte is turned away before any decoding.
	_, err = verifier.Verify(strings.Repeat("A", 1<<20))
	requireRejected(t, err)

	// The issuer refuses to mint a token it could not verify.
	_, _, err = verifier.Issue(coditect.NewID[coditect.AccountID](), coditect.SessionID{},
		token.WithScope(strings.Repeat("projects:read ", 700)))
	require.Error(t, err)
	require.Equal(t, coditect.CodeInternal, coditect.ErrorCode(err))
}

func TestIssueErrors(t *testing.T) {
	t.Parallel()
	account := coditect.NewID[coditect.AccountID]()

	_, _, err := mustIssuer(t, staticKeys(token.KeySet{}), t0).Issue(account, coditect.SessionID{})
	require.Equal(t, coditect.CodeInternal, coditect.ErrorCode(err))

	iss := mustIssuer(t, staticKeys(mustSet(t, mustKey(t, token.ES256))), t0)
	_, _, err = iss.Issue(coditect.AccountID{}, coditect.SessionID{})
	require.Equal(t, coditect.CodeInternal, coditect.ErrorCode(err))

	// A key past its ExpiresAt neither signs nor verifies.
	key := mustKey(t, token.ES256)
	key.ExpiresAt = t0.Add(time.Hour)
	keys := staticKeys(mustSet(t, key))
	tok := mustIssue(t, mustIssuer(t, keys, t0))
	_, err = mustIssuer(t, keys, t0.Add(time.Hour-time.Second)).Verify(tok)
	require.True(t, token.IsExpired(err), "the token expired before its key")
	_, _, err = mustIssuer(t, keys, t0.Add(time.Hour)).Issue(account, coditect.SessionID{})
	require.Equal(t, coditect.CodeInternal, coditect.ErrorCode(err))

	// Verification against the zero key set rejects everything.
	_, err = mustIssuer(t, staticKeys(token.KeySet{}), t0).Verify(tok)
	requireRejected(t, err)
}

func TestExpiredKeyStopsVerifying(t *testing.T) {
	t.Parallel()
	old := mustKey(t, token.EdDSA)
	tok := mustIssue(t, mustIssuer(t, staticKeys(mustSet(t, old)), t0))

	old.ExpiresAt = t0.Add(time.Minute)
	keys := staticKeys(mustSet(t, mustKey(t, token.ES256), old))
	_, err := mustIssuer(t, keys, t0.Add(59*time.Second)).Verify(tok)
	require.NoError(t, err)
	_, err = mustIssuer(t, keys, t0.Add(time.Minute)).Verify(tok)
	requireRejected(t, err)
}

func TestNewIssuerValidates(t *testing.T) {
	t.Parallel()
	keys := staticKeys(mustSet(t, mustKey(t, token.ES256)))
	_, err := token.NewIssuer(nil, testIssuer, testTTL, nil)
	require.Error(t, err)
	_, err = token.NewIssuer(keys, "", testTTL, nil)
	require.Error(t, err)
	_, err = token.NewIssuer(keys, testIssuer, 0, nil)
	require.Error(t, err)
	_, err = token.NewIssuer(keys, testIssuer, 2*time.Hour, nil)
	require.Error(t, err)
	_, err = token.NewIssuer(keys, testIssuer, testTTL, nil, token.WithAudience(""))
	require.Error(t, err)

	iss, err := token.NewIssuer(keys, testIssuer, testTTL, nil)
	require.NoError(t, err, "nil clock means time.Now")
	require.Equal(t, testTTL, iss.TTL())
	tok := mustIssue(t, iss)
	_, err = iss.Verify(tok)
	require.NoError(t, err)
}

func TestNewKeySetValidates(t *testing.T) {
	t.Parallel()
	a := mustKey(t, token.ES256)
	b := mustKey(t, token.EdDSA)

	dup := b
	dup.ID = a.ID
	_, err := token.NewKeySet(a, dup)
	require.Error(t, err)

	noID := a
	noID.ID = ""
	_, err = token.NewKeySet(noID)
	require.Error(t, err)

	_, err = token.NewKeySet(token.Key{ID: "x"})
	require.Error(t, err)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, err = token.NewKeySet(a, token.Key{ID: "p384", Private: p384})
	require.Error(t, err)

	ks, err := token.NewKeySet(a, b)
	require.NoError(t, err)
	require.Equal(t, a.ID, ks.Current().ID)
	prev := ks.Previous()
	require.Len(t, prev, 1)
	require.Equal(t, b.ID, prev[0].ID)
	prev[0] = a // the set is immutable
	require.Equal(t, b.ID, ks.Previous()[0].ID)
	require.True(t, token.KeySet{}.IsZero())
	require.False(t, ks.IsZero())

	_, ok := b.Private.(ed25519.PrivateKey)
	require.True(t, ok)
}
