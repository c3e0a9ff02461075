package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"unicode"
)

// Recovery-code shape.
const (
	// RecoveryCodeCount is how many recovery codes an enrolment hands out.
	RecoveryCodeCount = 10
	// RecoveryCodeLen is the number of significant characters in a recovery code; it is
	// shown as two dash-separated halves, "xxxxx-xxxxx".
	RecoveryCodeLen = 10
	// recoveryAlphabet has 32 symbols (8 digits, 24 letters): no 0/o and no 1/l, so that
	// codes read back from paper unambiguously, and a power of two so that masking a
	// random byte picks each symbol with equal probability. 10 symbols = 50 bits.
	recoveryAlphabet = "23456789abcdefghijkmnpqrstuvwxyz"
	maxRecoveryCodes = 100
)

// NewRecoveryCodes returns n fresh, distinct recovery codes formatted "xxxxx-xxxxx", to
// show the user once, and their hashes (HashRecoveryCode), in the same order, which are
// the only thing to store.
func NewRecoveryCodes(n int) (plain []string, hashes [][]byte, err error) {
	if n < 1 || n > maxRecoveryCodes {
		return nil, nil, fmt.Errorf("mfa: recovery code count %d out of range 1..%d", n, maxRecoveryCodes)
	}
	plain = make([]string, 0, n)
	hashes = make([][]byte, 0, n)
	seen := make(map[string]bool, n)
	raw := make([]byte, RecoveryCodeLen)
	for len(plain) < n {
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, fmt.Errorf("mfa: random recovery code: %w", err)
		}
		var b strings.Builder
		b.Grow(RecoveryCodeLen + 1)
		for i, r := range raw {
			if i == RecoveryCodeLen/2 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[int(r)&(len(recoveryAlphabet)-1)])
		}
		code := b.String()
		if seen[code] { // 2^-50 per pair; kept so "distinct" is a guarantee, not a bet
			continue
		}
		seen[code] = true
		plain = append(plain, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return plain, hashes, nil
}

// HashRecoveryCode returns the SHA-256 of code after normalising it (lower case, spaces
// and dashes removed), so that "ABCDE ABCDE", "abcdeabcde" and "abcde-abcde" hash alike.
//
// A fast, unsalted hash is deliberate. Slow, salted password hashes exist because
// human-chosen passwords are guessable: an attacker tries likely ones first, or looks
// them up in precomputed tables. Recovery codes are 50 bits drawn uniformly at random,
// so there are no likely ones and no useful tables, and a login attempt checks up to
// RecoveryCodeCount hashes, which with argon2 would cost ~10 password hashes per attempt.
// The residual risk: someone holding a copy of the database can brute-force codes
// offline (2^50 per code, less per hit across many accounts). A code so found replaces
// only the second factor; the attacker still needs the account's password, which is
// argon2id-hashed. If that margin is ever judged too thin, switch to HMAC with a server
// key (as SealSecret derives one) rather than to a slow hash.
func HashRecoveryCode(code string) []byte {
	sum := sha256.Sum256([]byte(normalizeRecoveryCode(code)))
	return sum[:]
}

// MatchRecoveryCode reports which of hashes (as stored from NewRecoveryCodes) code
// matches. Every candidate is compared, each in constant time, whether or not an earlier
// one matched.
//
// Matching does not consume the code: single use is the caller's job. On ok the caller
// must delete hashes[index] from the account's stored list in the same transaction as the
// sign-in it authorises (deleting by hash value, and treating "nothing deleted" as a lost
// race with a concurrent use of the same code).
func MatchRecoveryCode(code string, hashes [][]byte) (index int, ok bool) {
	norm := normalizeRecoveryCode(code)
	if len(norm) != RecoveryCodeLen {
		return -1, false
	}
	sum := sha256.Sum256([]byte(norm))
	index = -1
	for i, h := range hashes {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 && index < 0 {
			index = i
		}
	}
	return index, index >= 0
}

// normalizeRecoveryCode lower-cases code and drops white space and dashes.
func normalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, code)
}
