package mfa

import (
	"bytes"
	"errors"
	"image/png"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// testSecret is RFC 6238's SHA-1 test key ("12345678901234567890") in base32.
const testSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestNewEnrollment(t *testing.T) {
	t.Parallel()
	e, err := NewEnrollment("CODITECT", "alice@example.com")
	require.NoError(t, err)

	u, err := url.Parse(e.URL)
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)
	require.Equal(t, "totp", u.Host)
	require.Equal(t, "/CODITECT:alice@example.com", u.Path)
	q := u.Query()
	require.Equal(t, "CODITECT", q.Get("issuer"))
	require.Equal(t, e.Secret, q.Get("secret"))
	require.Equal(t, "30", q.Get("period"))
	require.Equal(t, "6", q.Get("digits"))
	require.Equal(t, "SHA1", q.Get("algorithm"))

	// 20 random bytes = 32 base32 characters, no padding.
	require.Len(t, e.Secret, 32)
	require.Regexp(t, `^[A-Z2-7]{32}$`, e.Secret)

	img, err := png.Decode(bytes.NewReader(e.QRPNG))
	require.NoError(t, err)
	require.Equal(t, QRSize, img.Bounds().Dx())
	require.Equal(t, QRSize, img.Bounds().Dy())

	other, err := NewEnrollment("CODITECT", "alice@example.com")
	require.NoError(t, err)
	require.NotEqual(t, e.Secret, other.Secret)

	// The secret works with the library's own generator and with Verify.
	now := time.Now()
	code, err := totp.GenerateCode(e.Secret, now)
	require.NoError(t, err)
	_, err = Verify(e.Secret, code, 0, now)
	require.NoError(t, err)
}

func TestNewEnrollmentRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ issuer, email string }{
		{"", "alice@example.com"},
		{"Bad:Issuer", "alice@example.com"},
		{"CODITECT", ""},
		{"CODITECT", "   "},
	} {
		_, err := NewEnrollment(tc.issuer, tc.email)
		require.Error(t, err, "%q %q", tc.issuer, tc.email)
	}
}

func TestVerifyWindow(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{
		time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), // inside a step
		time.Date(2026, 3, 14, 15, 9, 30, 0, time.UTC), // on a step boundary
		time.Date(2026, 3, 14, 15, 9, 59, 0, time.UTC), // at a step's last second
		time.Unix(59, 0), // RFC 6238 test vector time
	} {
		code, err := totp.GenerateCode(testSecret, at)
		require.NoError(t, err)
		want := StepAt(at)

		for _, d := range []time.Duration{0, -30 * time.Second, 30 * time.Second} {
			step, err := Verify(testSecret, code, 0, at.Add(d))
			require.NoError(t, err, "at %v%+v", at, d)
			require.Equal(t, want, step)
		}
		for _, d := range []time.Duration{-90 * time.Second, 90 * time.Second, -60 * time.Second, 60 * time.Second} {
			_, err := Verify(testSecret, code, 0, at.Add(d))
			requireInvalid(t, err, ErrCodeMismatch)
		}
	}
}

func TestVerifyRFC6238Vector(t *testing.T) {
	t.Parallel()
	// RFC 6238 appendix B, SHA-1, T=59: 94287082 (8 digits); 6 digits keep the last six.
	step, err := Verify(testSecret, "287082", 0, time.Unix(59, 0))
	require.NoError(t, err)
	require.Equal(t, int64(1), step)
	// T=1111111109: 07081804.
	_, err = Verify(testSecret, "081804", 0, time.Unix(1111111109, 0))
	require.NoError(t, err)
}

func TestVerifyRejectsReplay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	code, err := totp.GenerateCode(testSecret, now)
	require.NoError(t, err)

	step, err := Verify(testSecret, code, 0, now)
	require.NoError(t, err)
	require.Equal(t, StepAt(now), step)

	// The caller stored step; the same code is refused, now and a step later.
	_, err = Verify(testSecret, code, step, now)
	requireInvalid(t, err, ErrCodeReused)
	_, err = Verify(testSecret, code, step, now.Add(30*time.Second))
	requireInvalid(t, err, ErrCodeReused)

	// So is the previous step's code, which is still inside the window.
	prev, err := totp.GenerateCode(testSecret, now.Add(-30*time.Second))
	require.NoError(t, err)
	_, err = Verify(testSecret, prev, step, now)
	requireInvalid(t, err, ErrCodeReused)

	// The next step's code is accepted, and advances the step.
	next, err := totp.GenerateCode(testSecret, now.Add(30*time.Second))
	require.NoError(t, err)
	got, err := Verify(testSecret, next, step, now.Add(30*time.Second))
	require.NoError(t, err)
	require.Equal(t, step+1, got)
}

func TestVerifyNormalisesAndRejectsMalformed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	code, err := totp.GenerateCode(testSecret, now)
	require.NoError(t, err)

	for _, typed := range []string{code[:3] + " " + code[3:], " " + code + "\n", code[:2] + " " + code[2:4] + " " + code[4:]} {
		_, err := Verify(testSecret, typed, 0, now)
		require.NoError(t, err, "%q", typed)
	}

	for _, bad := range []string{"12345", "abcdef", "1234567", "", "      ", "12345a", "123-456", "１２３４５６", "+12345", code + "0"} {
		_, err := Verify(testSecret, bad, 0, now)
		requireInvalid(t, err, ErrCodeMalformed)
	}
}

func TestVerifyWrongCode(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	code, err := totp.GenerateCode(testSecret, now)
	require.NoError(t, err)
	wrong := []byte(code)
	wrong[5] = '0' + (wrong[5]-'0'+1)%10
	_, err = Verify(testSecret, string(wrong), 0, now)
	requireInvalid(t, err, ErrCodeMismatch)
}

func TestVerifyBadSecretIsInternal(t *testing.T) {
	t.Parallel()
	_, err := Verify("not base32!!", "123456", 0, time.Now())
	require.Error(t, err)
	require.Equal(t, coditect.CodeInternal, coditect.ErrorCode(err))
}

func TestStepAt(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(0), StepAt(time.Unix(0, 0)))
	require.Equal(t, int64(0), StepAt(time.Unix(29, 999)))
	require.Equal(t, int64(1), StepAt(time.Unix(30, 0)))
	require.Equal(t, int64(-1), StepAt(time.Unix(-1, 0)))
	require.Equal(t, int64(-1), StepAt(time.Unix(-30, 0)))
	require.Equal(t, int64(-2), StepAt(time.Unix(-31, 0)))
}

func TestRequired(t *testing.T) {
	t.Parallel()
	err := error(Required())
	require.Equal(t, CodeRequired, coditect.ErrorCode(err))
	require.Equal(t, coditect.CodeUnauthorized, coditect.ErrorKind(err))
}

func requireInvalid(t *testing.T, err error, cause error) {
	t.Helper()
	require.Error(t, err)
	var e *coditect.Error
	require.True(t, errors.As(err, &e), "%T is not *coditect.Error", err)
	require.Equal(t, coditect.Code("auth.mfa_invalid"), e.Code)
	require.Equal(t, coditect.CodeUnauthorized, e.Kind)
	require.ErrorIs(t, err, cause)
}
