package identity_test

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/identity/mfa"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

const password = "correct horse battery staple"

// recordingThrottle is a MemoryThrottle that remembers the keys failures were
// counted under.
type recordingThrottle struct {
	*identity.MemoryThrottle
	mu     sync.Mutex
	failed []string
}

func (r *recordingThrottle) Fail(ctx context.Context, key string, window time.Duration) error {
	r.mu.Lock()
	r.failed = append(r.failed, key)
	r.mu.Unlock()
	return r.MemoryThrottle.Fail(ctx, key, window)
}

func (r *recordingThrottle) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failed)
}

type noMail struct{}

func (noMail) Mail(context.Context, string, string, any) error { return nil }

type fixture struct {
	svc      *identity.Service
	throttle *recordingThrottle
	clock    *atomic.Int64 // offset from now, in nanoseconds
	account  coditect.AccountID
}

func setup(t *testing.T) fixture {
	t.Helper()
	store, _ := postgrestest.NewStore(t)
	key, err := token.GenerateKey("")
	require.NoError(t, err)
	ks, err := token.NewKeySet(key)
	require.NoError(t, err)
	issuer, err := token.NewIssuer(func() token.KeySet { return ks }, "https://coditect.test", 15*time.Minute, nil)
	require.NoError(t, err)
	f := fixture{throttle: &recordingThrottle{MemoryThrottle: identity.NewMemoryThrottle(nil)}, clock: &atomic.Int64{}}
	f.svc, err = identity.NewService(identity.Config{
		Argon2:    identity.Argon2Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1},
		AppSecret: []byte("an application secret of at least 32 bytes, for tests"), BaseURL: "https://coditect.test", BaseDomain: "coditect.test",
	}, identity.Deps{Store: store, Accounts: postgres.AccountStore{Store: store}, Tokens: issuer, Throttle: f.throttle,
		Mailer: noMail{}, Jobs: store, Now: func() time.Time { return time.Now().Add(time.Duration(f.clock.Load())) }})
	require.NoError(t, err)
	res, err := f.svc.Signup(context.Background(), identity.SignupParams{Email: "Ann@Example.test", Password: password, Name: "Ann",
		OrganizationName: "Acme"}, identity.Client{})
	require.NoError(t, err)
	f.account = res.Account.ID
	return f
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ip := netip.MustParseAddr("203.0.113.7")
	ctx := audit.WithInfo(context.Background(), audit.RequestInfo{IP: &ip, UserAgent: "browser"})

	id, err := f.svc.Authenticate(ctx, " ann@EXAMPLE.test ", password, "")
	require.NoError(t, err)
	require.Equal(t, f.account, id)
	email, name, err := f.svc.Account(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "ann@example.test", email)
	require.Equal(t, "Ann", name)
	_, _, err = f.svc.Account(ctx, coditect.NewID[coditect.AccountID]())
	require.True(t, coditect.IsNotFound(err))

	// Unknown email and wrong password: the same error, counted against the account
	// tried and the client IP from the request origin, as Login counts them.
	_, errUnknown := f.svc.Authenticate(ctx, "nobody@example.test", password, "")
	_, errWrong := f.svc.Authenticate(ctx, "ann@example.test", "not the password", "")
	require.Equal(t, identity.CodeInvalidCredentials, coditect.ErrorCode(errUnknown))
	require.Equal(t, errUnknown.Error(), errWrong.Error())
	require.Equal(t, coditect.CodeUnauthorized, coditect.ErrorKind(errWrong))
	require.Equal(t, []string{"login:acct:nobody@example.test", "login:ip:203.0.113.7", "login:acct:ann@example.test", "login:ip:203.0.113.7"},
		f.throttle.keys())

	// Throttled like Login, and Login sees the same count.
	for range 9 {
		_, err = f.svc.Authenticate(ctx, "ann@example.test", "not the password", "")
		require.Equal(t, identity.CodeInvalidCredentials, coditect.ErrorCode(err))
	}
	_, err = f.svc.Authenticate(ctx, "ann@example.test", password, "")
	require.Equal(t, coditect.CodeRateLimited, coditect.ErrorKind(err))
	_, err = f.svc.Login(context.Background(), identity.LoginParams{Email: "ann@example.test", Password: password}, identity.Client{})
	require.Equal(t, coditect.CodeRateLimited, coditect.ErrorKind(err))
}

func TestAuthenticateSecondFactor(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	actor := coditect.Actor{Kind: coditect.ActorAccount, AccountID: f.account}
	enrol, err := f.svc.MFAStart(ctx, actor)
	require.NoError(t, err)
	now := func() time.Time { return time.Now().Add(time.Duration(f.clock.Load())) }
	code := func() string {
		c, err := totp.GenerateCode(enrol.Secret, now())
		require.NoError(t, err)
		return c
	}
	recovery, err := f.svc.MFAConfirm(ctx, actor, code())
	require.NoError(t, err)
	f.clock.Add(int64(30 * time.Second))

	_, err = f.svc.Authenticate(ctx, "ann@example.test", password, "")
	require.Equal(t, mfa.CodeRequired, coditect.ErrorCode(err))
	_, err = f.svc.Authenticate(ctx, "ann@example.test", password, "000000x")
	require.Equal(t, mfa.CodeInvalid, coditect.ErrorCode(err))
	_, err = f.svc.Authenticate(ctx, "ann@example.test", "not the password", code())
	require.Equal(t, identity.CodeInvalidCredentials, coditect.ErrorCode(err), "a wrong password with a right code is wrong credentials")

	c := code()
	id, err := f.svc.Authenticate(ctx, "ann@example.test", password, c)
	require.NoError(t, err)
	require.Equal(t, f.account, id)
	_, err = f.svc.Authenticate(ctx, "ann@example.test", password, c)
	require.Equal(t, mfa.CodeInvalid, coditect.ErrorCode(err), "a code works once")
	_, err = f.svc.Login(ctx, identity.LoginParams{Email: "ann@example.test", Password: password, TOTPCode: c}, identity.Client{})
	require.Equal(t, mfa.CodeInvalid, coditect.ErrorCode(err), "not even through Login")

	id, err = f.svc.Authenticate(ctx, "ann@example.test", password, recovery[0])
	require.NoError(t, err)
	require.Equal(t, f.account, id)
	_, err = f.svc.Authenticate(ctx, "ann@example.test", password, recovery[0])
	require.Equal(t, mfa.CodeInvalid, coditect.ErrorCode(err))
}
