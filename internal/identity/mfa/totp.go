// Package mfa is the second sign-in factor: TOTP enrolment and verification (RFC 6238),
// single-use recovery codes, and the encryption of TOTP secrets at rest.
//
// It is pure logic: nothing here reads or writes a database. The identity store persists
// what these functions return — the sealed secret, the last accepted time step, the
// recovery-code hashes — and must update them atomically with the sign-in they belong to.
package mfa

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/coditect/coditect/internal/coditect"
)

// Error codes of the second factor, as the HTTP API reports them on sign-in (401).
const (
	// CodeRequired means the account has MFA enabled and no code was sent.
	CodeRequired coditect.Code = "auth.mfa_required"
	// CodeInvalid means the code sent was malformed, wrong, outside the accepted
	// window, or already used.
	CodeInvalid coditect.Code = "auth.mfa_invalid"
)

// TOTP parameters. These are the only ones every mainstream authenticator app honours
// (several ignore the otpauth URL's algorithm, digits and period and assume these).
const (
	// Digits is the number of digits in a TOTP code.
	Digits = 6
	// PeriodSeconds is the length of one TOTP time step.
	PeriodSeconds = 30
	// Skew is how many steps before and after the current one are also accepted, to
	// tolerate clock drift and the time a user takes to type.
	Skew = 1
	// SecretSize is the size of a generated TOTP secret in bytes (160 bits, the HMAC-SHA1
	// block-size recommendation of RFC 4226 §4).
	SecretSize = 20
	// QRSize is the width and height in pixels of Enrollment.QRPNG.
	QRSize = 256
)

// Causes carried in the Err field of the *coditect.Error that Verify returns, for logs
// and metrics (errors.Is works through the *coditect.Error). Callers must not tell the
// user which one happened: the public answer is always CodeInvalid.
var (
	// ErrCodeMalformed means the code was not exactly Digits ASCII digits.
	ErrCodeMalformed = errors.New("mfa: code is not 6 digits")
	// ErrCodeMismatch means the code matched no step inside the accepted window.
	ErrCodeMismatch = errors.New("mfa: code does not match")
	// ErrCodeReused means the code matched only steps at or before lastUsedStep: a replay.
	ErrCodeReused = errors.New("mfa: code already used")
)

// Required returns the error for a sign-in without a code on an account with MFA.
func Required() *coditect.Error {
	return &coditect.Error{Code: CodeRequired, Kind: coditect.CodeUnauthorized,
		Message: "an authentication code is required"}
}

// invalid returns the one public error for any rejected code, keeping cause for logs.
func invalid(cause error) *coditect.Error {
	return &coditect.Error{Code: CodeInvalid, Kind: coditect.CodeUnauthorized,
		Message: "the authentication code is invalid", Err: cause}
}

// Enrollment is a freshly generated TOTP key, shown to the user once so that an
// authenticator app can be set up. MFA is not enabled by creating one: the caller keeps
// the (sealed) secret as pending until the user proves possession with Verify.
type Enrollment struct {
	// Secret is the shared secret, base32 without padding, as authenticator apps expect
	// for manual entry. Store it only sealed (SealSecret).
	Secret string
	// URL is the otpauth://totp/… key URI with issuer, account, secret, algorithm,
	// digits and period.
	URL string
	// QRPNG is a QRSize×QRSize PNG of URL, for the user to scan. It may be served as is
	// or dropped if the client renders its own QR code from URL.
	QRPNG []byte
}

// NewEnrollment generates a new random TOTP secret for accountEmail under issuer (the
// name shown in the authenticator app, e.g. "CODITECT"). The issuer must not contain a
// colon, which separates issuer and account in the key URI's label.
func NewEnrollment(issuer, accountEmail string) (Enrollment, error) {
	issuer = strings.TrimSpace(issuer)
	accountEmail = strings.TrimSpace(accountEmail)
	if issuer == "" || strings.Contains(issuer, ":") {
		return Enrollment{}, fmt.Errorf("mfa: issuer %q must be non-empty and contain no colon", issuer)
	}
	if accountEmail == "" {
		return Enrollment{}, errors.New("mfa: account email is empty")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountEmail,
		Period:      PeriodSeconds,
		SecretSize:  SecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: generate TOTP key: %w", err)
	}
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: render QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("mfa: encode QR code: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// StepAt returns the TOTP time step that contains t: floor(unix seconds / PeriodSeconds).
func StepAt(t time.Time) int64 {
	s := t.Unix()
	step := s / PeriodSeconds
	if s%PeriodSeconds < 0 { // floor, not truncation, before 1970
		step--
	}
	return step
}

// Verify checks a TOTP code typed by the user against secret (base32, as in
// Enrollment.Secret) at time now, and returns the time step it matched.
//
// The code may contain spaces ("123 456"); otherwise it must be exactly Digits ASCII
// digits. The steps StepAt(now)-Skew … StepAt(now)+Skew are accepted, each compared in
// constant time, all of them always computed.
//
// Replay protection: a code whose step is ≤ lastUsedStep is rejected, so a code (or an
// older one from the window) works once. The caller must store the returned step as the
// account's new lastUsedStep atomically with the sign-in or enrolment it authorises
// (e.g. UPDATE … SET totp_last_step = $step WHERE totp_last_step < $step, and treat zero
// rows updated as a replay lost to a concurrent request). Pass 0 when no code was ever
// accepted.
//
// A rejected code returns a *coditect.Error with Code CodeInvalid and Kind
// coditect.CodeUnauthorized, whose Err is ErrCodeMalformed, ErrCodeMismatch or
// ErrCodeReused. A secret that is not valid base32 is a stored-data bug and returns a
// coditect.CodeInternal error.
func Verify(secret, code string, lastUsedStep int64, now time.Time) (int64, error) {
	code, ok := normalizeCode(code)
	if !ok {
		return 0, invalid(ErrCodeMalformed)
	}
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	current := StepAt(now)
	matched, replayed := int64(-1), false
	for step := current - Skew; step <= current+Skew; step++ {
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), opts)
		if err != nil {
			return 0, &coditect.Error{Code: coditect.CodeInternal, Message: "stored TOTP secret is unusable", Err: err}
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step <= lastUsedStep {
			replayed = true
			continue
		}
		matched = step // the loop ascends: a (rare) multiple match keeps the latest step
	}
	switch {
	case matched >= 0:
		return matched, nil
	case replayed:
		return 0, invalid(ErrCodeReused)
	default:
		return 0, invalid(ErrCodeMismatch)
	}
}

// normalizeCode removes all white space from code and reports whether what remains is
// exactly Digits ASCII digits.
func normalizeCode(code string) (string, bool) {
	code = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, code)
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}
